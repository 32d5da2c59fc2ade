package dkim

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// go-msgauth v0.7.0 checks x= against its own package clock (time.Now, not
// injectable) before it even fetches the key. When Verifier.Now says a
// signature is still valid but the process clock says it has expired (a
// replayed or queued message judged at its arrival time, or tests), the
// signature is verified here instead, with the same RFC 6376 algorithms:
// body canonicalization (§3.4.3, §3.4.4) streamed from Body, header
// selection and canonicalization (§3.4.1, §3.4.2, §5.4.2) at Close, and
// RSA-SHA256 (§3.3.2) or Ed25519-SHA256 (RFC 8463 §3). Everything else goes
// through go-msgauth.

// bodyCanon is a streaming body canonicalizer writing into a hash.
type bodyCanon struct {
	relaxed    bool
	w          *bufio.Writer
	h          hash.Hash
	pendingCR  bool // a CR waiting to see whether LF follows
	pendingWSP bool // relaxed: whitespace run not yet known to be interior
	emptyLines int  // CRLFs held back: trailing empty lines are dropped
	inLine     bool // the current line has content
	wrote      bool // anything was emitted
}

func newBodyCanon(relaxed bool) *bodyCanon {
	h := sha256.New()
	return &bodyCanon{relaxed: relaxed, h: h, w: bufio.NewWriterSize(h, 4096)}
}

func (c *bodyCanon) content(b byte) {
	if !c.inLine {
		for ; c.emptyLines > 0; c.emptyLines-- {
			c.w.WriteString("\r\n")
		}
		c.inLine = true
	}
	if c.pendingWSP {
		c.w.WriteByte(' ')
		c.pendingWSP = false
	}
	c.w.WriteByte(b)
	c.wrote = true
}

func (c *bodyCanon) endLine() {
	c.pendingWSP = false // relaxed: trailing WSP is ignored (§3.4.4)
	if c.inLine {
		c.w.WriteString("\r\n")
		c.inLine = false
	} else {
		c.emptyLines++
	}
}

// Write takes CRLF-normalized body bytes.
func (c *bodyCanon) Write(p []byte) (int, error) {
	for _, b := range p {
		if c.pendingCR {
			c.pendingCR = false
			if b == '\n' {
				c.endLine()
				continue
			}
			c.content('\r')
		}
		switch {
		case b == '\r':
			c.pendingCR = true
		case c.relaxed && (b == ' ' || b == '\t'):
			// §3.4.4: reduce WSP runs to one SP.
			c.pendingWSP = true
		default:
			c.content(b)
		}
	}
	return len(p), nil
}

// sum finishes the body: §3.4.3 simple turns an empty body into one CRLF
// and drops trailing empty lines; §3.4.4 relaxed leaves an empty body
// empty. Both end a last line that lacks CRLF with one.
func (c *bodyCanon) sum() []byte {
	if c.pendingCR {
		c.pendingCR = false
		c.content('\r')
	}
	if c.inLine {
		c.w.WriteString("\r\n")
	} else if !c.relaxed && !c.wrote {
		c.w.WriteString("\r\n")
	}
	c.w.Flush()
	return c.h.Sum(nil)
}

// canonHeader canonicalizes one header field (with its final CRLF).
func canonHeader(field []byte, relaxed bool) []byte {
	if !relaxed {
		return field // §3.4.1: unchanged
	}
	// §3.4.2: lowercase the name, unfold, reduce WSP to one SP, trim
	// WSP around the colon and at the end.
	name, value, _ := bytes.Cut(field, []byte(":"))
	out := make([]byte, 0, len(field))
	out = append(out, bytes.ToLower(bytes.TrimRight(name, " \t"))...)
	out = append(out, ':')
	wsp, started := false, false
	for _, b := range value {
		switch b {
		case '\r', '\n':
		case ' ', '\t':
			wsp = true
		default:
			if wsp && started {
				out = append(out, ' ')
			}
			wsp, started = false, true
			out = append(out, b)
		}
	}
	return append(out, '\r', '\n')
}

// stripBValue returns the DKIM-Signature field with the b= tag's value
// removed and everything else kept byte for byte (§3.7).
func stripBValue(field []byte) []byte {
	colon := bytes.IndexByte(field, ':')
	out := append([]byte(nil), field[:colon+1]...)
	rest := field[colon+1:]
	for len(rest) > 0 {
		seg := rest
		end := bytes.IndexByte(rest, ';')
		if end >= 0 {
			seg = rest[:end]
		}
		name, _, ok := bytes.Cut(seg, []byte("="))
		if ok && string(bytes.Trim(name, " \t\r\n")) == "b" {
			eq := bytes.IndexByte(seg, '=')
			out = append(out, seg[:eq+1]...)
			// Keep the field's final CRLF when b= is the last tag.
			if end < 0 && bytes.HasSuffix(seg, []byte("\r\n")) {
				out = append(out, '\r', '\n')
			}
		} else {
			out = append(out, seg...)
		}
		if end < 0 {
			break
		}
		out = append(out, ';')
		rest = rest[end+1:]
	}
	return out
}

// fieldName returns the lower-cased, trimmed name of a header field.
func fieldName(field []byte) string {
	name, _, _ := bytes.Cut(field, []byte(":"))
	return strings.ToLower(string(bytes.TrimSpace(name)))
}

// headerHash computes the §3.7 data hash for signature field sigAt over
// head, picking signed fields bottom-up (§5.4.2).
func (s *Session) headerHash(sig *Signature, sigAt [2]int) []byte {
	relaxed := sig.HeaderCanon == "relaxed"
	var fields [][2]int
	for off := 0; off < len(s.head); {
		end := off
		for {
			i := bytes.Index(s.head[end:], []byte("\r\n"))
			if i < 0 {
				end = len(s.head)
				break
			}
			end += i + 2
			if end >= len(s.head) || (s.head[end] != ' ' && s.head[end] != '\t') {
				break
			}
		}
		fields = append(fields, [2]int{off, end})
		off = end
	}
	used := make([]bool, len(fields))
	h := sha256.New()
	for _, name := range sig.SignedHeaders {
		lname := strings.ToLower(name)
		for i := len(fields) - 1; i >= 0; i-- {
			f := s.head[fields[i][0]:fields[i][1]]
			if used[i] || fieldName(f) != lname {
				continue
			}
			used[i] = true
			h.Write(canonHeader(f, relaxed))
			break
		}
	}
	self := canonHeader(stripBValue(s.head[sigAt[0]:sigAt[1]]), relaxed)
	h.Write(bytes.TrimSuffix(self, []byte("\r\n")))
	return h.Sum(nil)
}

// verifyOwn completes the clock-skew path for one signature: key checks,
// body hash, header hash and signature.
func (s *Session) verifyOwn(st *sigState, sigAt [2]int, body *bodyCanon) Result {
	res := st.res
	// The answer (or error) is kept in s.keys; checkKey classifies it.
	_, _ = s.lookupTXT(st.sig.Selector + "._domainkey." + st.sig.Domain)
	key, r, reason, err := s.checkKey(st.sig, s.fetched(st.sig))
	if key != nil {
		res.KeyBits = key.bits
	}
	if err != nil {
		res.Result, res.Reason, res.Err = r, reason, err
		return res
	}
	bh, _ := base64.StdEncoding.DecodeString(st.sig.BodyHash)
	if subtle.ConstantTimeCompare(body.sum(), bh) != 1 {
		res.Result, res.Reason, res.Err = Fail, "body hash mismatch", ErrBodyHash
		return res
	}
	sigBytes, _ := base64.StdEncoding.DecodeString(st.sig.B)
	digest := s.headerHash(st.sig, sigAt)
	switch {
	case key.rsa != nil:
		err = rsa.VerifyPKCS1v15(key.rsa, crypto.SHA256, digest, sigBytes)
	case key.ed25519 != nil:
		if !ed25519.Verify(key.ed25519, digest, sigBytes) {
			err = errors.New("invalid Ed25519 signature")
		}
	default:
		err = fmt.Errorf("no usable key")
	}
	if err != nil {
		res.Result, res.Reason, res.Err = Fail, "signature mismatch", errors.Join(ErrBadSignature, err)
		return res
	}
	res.Result = Pass
	if key.hasFlag("y") {
		res.Reason = "key in testing mode"
	}
	return res
}
