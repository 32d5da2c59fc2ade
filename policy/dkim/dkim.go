// Package dkim verifies DKIM signatures (RFC 6376, updated by RFC 8301 and
// RFC 8463) on a message that arrives in pieces, as a milter sees it: header
// fields one by one, then the body in chunks. The body is streamed through
// an io.Pipe into go-msgauth's verifier and never buffered whole.
//
// go-msgauth does the canonicalization and the cryptography. This package
// adds what it lacks: the per-signature tags that RFC 8601 / RFC 6008 want
// in Authentication-Results (header.s, header.a, header.b), RFC 8601 result
// tokens, an injected resolver and clock, key-size policy, the t=s key flag,
// a signature limit, and reasons fit for a header. Each signature's tags are
// parsed here (ParseSignature) and matched, in header order, to go-msgauth's
// verifications.
package dkim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/authmilter/authmilter/policy/crlf"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"github.com/authmilter/authmilter/resolver"
)

// Errors carried in Result.Err, tested with errors.Is. They are for logs;
// Result.Reason holds the header-safe summary.
var (
	ErrSyntax            = errors.New("dkim: malformed signature")
	ErrVersion           = errors.New("dkim: unsupported signature version")
	ErrMissingTag        = errors.New("dkim: signature missing required tag")
	ErrFromNotSigned     = errors.New("dkim: From field not signed")
	ErrIdentifier        = errors.New("dkim: i= domain not within d=")
	ErrTimestamp         = errors.New("dkim: inconsistent t= and x=")
	ErrAlgorithm         = errors.New("dkim: unsupported signing algorithm")
	ErrWeakAlgorithm     = errors.New("dkim: rsa-sha1 is not accepted")
	ErrCanonicalization  = errors.New("dkim: unsupported canonicalization")
	ErrQueryMethod       = errors.New("dkim: unsupported query method")
	ErrExpired           = errors.New("dkim: signature expired")
	ErrBodyLength        = errors.New("dkim: l= body length limit not accepted")
	ErrTooManySignatures = errors.New("dkim: too many signatures")
	ErrHeaderTooLarge    = errors.New("dkim: header section too large")
	ErrKeyUnavailable    = errors.New("dkim: key lookup failed temporarily")
	ErrKeyNotFound       = errors.New("dkim: no key record")
	ErrKeyLookup         = errors.New("dkim: key lookup failed")
	ErrMultipleKeys      = errors.New("dkim: multiple key records")
	ErrKeySyntax         = errors.New("dkim: malformed key record")
	ErrKeyRevoked        = errors.New("dkim: key revoked")
	ErrKeyUnsupported    = errors.New("dkim: unsupported key type")
	ErrKeyMismatch       = errors.New("dkim: key not usable for this signature")
	ErrKeyTooSmall       = errors.New("dkim: RSA key too small")
	ErrBodyHash          = errors.New("dkim: body hash mismatch")
	ErrBadSignature      = errors.New("dkim: signature mismatch")
	ErrVerifier          = errors.New("dkim: verification error")
	ErrIncomplete        = errors.New("dkim: verification incomplete")
	ErrClosed            = errors.New("dkim: session closed")
	ErrNotEnded          = errors.New("dkim: body before end of headers")
)

// RFC 8601 §2.7.1 result tokens for method "dkim".
const (
	Pass      = "pass"
	Fail      = "fail"
	Neutral   = "neutral"
	Policy    = "policy"
	TempError = "temperror"
	PermError = "permerror"
)

const (
	defaultMaxSignatures = 5
	// RFC 8301 §3.2: verifiers MUST NOT consider signatures using RSA
	// keys of less than 1024 bits as valid.
	rfc8301MinRSABits = 1024
	// maxHeaderBytes bounds what a Session keeps even if the caller does
	// not limit the header section: beyond it, signatures are reported
	// as policy and not verified.
	maxHeaderBytes = 8 << 20
	// bPrefixLen is the shortest header.b we report (RFC 6008 §4: at
	// least 8 characters).
	bPrefixLen = 8
)

// Verifier holds the settings shared by all sessions. It is read-only once
// built and safe for concurrent use by many Sessions.
type Verifier struct {
	// Resolver looks up key records (RFC 6376 §3.6.2.2). It must honour
	// ctx and return *net.DNSError (see package resolver).
	Resolver resolver.Resolver
	// MaxSignatures is how many DKIM-Signature fields are verified per
	// message; 0 (or less) means 5. Further signatures are reported as
	// "policy" without DNS lookups or hashing: RFC 6376 §6.1 lets
	// verifiers limit the signatures they try, and refusing to try is a
	// local policy decision about a signature that may be valid, which is
	// what RFC 8601 §2.7.1 "policy" means (not "neutral", which is for
	// signatures that could not be processed).
	MaxSignatures int
	// MinRSABits is the smallest RSA modulus accepted; 0 means 1024.
	// Values below 1024 are raised to 1024 (RFC 8301 §3.2 MUST NOT).
	MinRSABits int
	// Now is the clock for x= expiry; nil means time.Now.
	Now func() time.Time

	// sysNow stands for go-msgauth's own clock (time.Now) in tests;
	// forceOwn sends every signature through the clock-skew path so that
	// tests can hold it to the same corpora as go-msgauth.
	sysNow   func() time.Time
	forceOwn bool
}

// skewMargin: signatures that expire within this margin of the process
// clock are verified by the clock-skew path, so that go-msgauth's own x=
// check cannot flip while the message is still arriving.
const skewMargin = 10 * time.Minute

// needsOwnPath reports whether go-msgauth would refuse sig as expired by
// the process clock although Verifier.Now (checked before) accepts it.
func (v *Verifier) needsOwnPath(sig *Signature) bool {
	if v.forceOwn {
		return true
	}
	sys := time.Now
	if v.sysNow != nil {
		sys = v.sysNow
	}
	return sig.HasExpiration && sys().Add(skewMargin).Unix() > sig.Expiration
}

func (v *Verifier) maxSignatures() int {
	if v.MaxSignatures <= 0 {
		return defaultMaxSignatures
	}
	return v.MaxSignatures
}

func (v *Verifier) minRSABits() int {
	return max(v.MinRSABits, rfc8301MinRSABits)
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Result is the outcome for one DKIM-Signature field.
type Result struct {
	Result     string // RFC 8601 token: pass, fail, neutral, policy, temperror, permerror
	Reason     string // short, ASCII, no CR/LF or ';' (still sanitize before use)
	Domain     string // header.d
	Identifier string // header.i (the AUID; "@"+d when i= is absent)
	Selector   string // header.s
	Algorithm  string // header.a
	B          string // header.b: shortest prefix (>= 8 chars) of b= unique in the message
	KeyBits    int    // RSA modulus bits, or 256 for Ed25519, when a key was fetched and parsed
	Err        error  // detail for logs only
}

// Session verifies one message. Call Header for each field, EndHeaders,
// Body for each chunk, then Close (or Abort). A Session is not safe for
// concurrent use; different Sessions are independent.
type Session struct {
	v      *Verifier
	ctx    context.Context
	cancel context.CancelFunc

	// head holds the header section, each field copied once, with CRLF
	// line ends. sigAt indexes the DKIM-Signature fields in it.
	head     []byte
	sigAt    [][2]int
	sigCount int // DKIM-Signature fields seen, including ones not kept
	overflow bool

	ended, closed bool
	sigs          []sigState
	owns          []*bodyCanon // body hashers of the clock-skew path
	results       []Result

	// Verifier goroutine state; pw is nil when none runs.
	pw         *io.PipeWriter
	done       chan struct{}
	readerDone bool                    // go-msgauth stopped reading: drop further body
	lf         crlf.Stream             // bare LF -> CRLF across chunks
	verifs     []*msgauth.Verification // written by the goroutine before done is closed
	verr       error

	mu   sync.Mutex
	keys map[string]*keyFetch
}

type sigState struct {
	sig    *Signature
	res    Result
	judged bool       // res is final without go-msgauth
	own    *bodyCanon // non-nil: verified by the clock-skew path
}

type keyFetch struct {
	ready chan struct{}
	txt   []string
	err   error
}

// errVerifierDone is how the goroutine tells Body that go-msgauth has
// finished and the rest of the body is not needed.
var errVerifierDone = errors.New("dkim: verifier finished")

// NewSession starts verifying one message. ctx bounds the key lookups and
// should carry a deadline: Body waits for go-msgauth, which waits for the
// key before it reads the body. Abort and Close release ctx. Resolver must
// be set.
func (v *Verifier) NewSession(ctx context.Context) *Session {
	ctx, cancel := context.WithCancel(ctx)
	return &Session{v: v, ctx: ctx, cancel: cancel}
}

// Header records one complete header field as received: name, colon,
// value, folding, final CRLF. Bare LF is turned into CRLF and a missing
// final line end is added. Fields after EndHeaders are ignored.
//
// go-msgauth re-reads the header section as text, so the field is kept in
// a shape it splits exactly as given: a field starting with whitespace
// continues the previous one (as in RFC 5322 §2.2.3), and an inner line
// that does not start with whitespace (which would open a new field, or
// end the header section if empty) gets a leading space. Otherwise the
// signatures parsed here and go-msgauth's verifications could be paired
// wrongly.
func (s *Session) Header(field []byte) {
	if s.ended || s.closed {
		return
	}
	for len(field) > 0 && (field[0] == '\r' || field[0] == '\n') {
		field = field[1:]
	}
	if len(field) == 0 {
		return
	}
	continuation := field[0] == ' ' || field[0] == '\t'
	if continuation && len(s.head) == 0 {
		field = bytes.TrimLeft(field, " \t")
		continuation = false
	}
	isSig := !continuation && isSignatureField(field)
	if isSig {
		s.sigCount++
	}
	if s.overflow || len(s.head)+2*len(field)+2 > maxHeaderBytes {
		s.overflow = true
		return
	}
	start := len(s.head)
	s.head = crlf.AppendField(s.head, field)
	switch {
	case isSig:
		s.sigAt = append(s.sigAt, [2]int{start, len(s.head)})
	case continuation && len(s.sigAt) > 0 && s.sigAt[len(s.sigAt)-1][1] == start:
		s.sigAt[len(s.sigAt)-1][1] = len(s.head)
	}
}

// isSignatureField matches the way go-msgauth picks signature fields (the
// text before the first colon, or the whole line without one, trimmed,
// case-insensitive), so that our list and its verifications line up.
func isSignatureField(field []byte) bool {
	name, _, _ := bytes.Cut(field, []byte(":"))
	if i := bytes.IndexByte(name, '\n'); i >= 0 {
		name = name[:i]
	}
	return strings.EqualFold(string(bytes.TrimSpace(name)), "DKIM-Signature")
}

// EndHeaders marks the end of the header section. It parses the
// signatures, settles those that need no cryptography, and starts the
// go-msgauth goroutine only when some signature still needs it.
func (s *Session) EndHeaders() {
	if s.ended || s.closed {
		return
	}
	s.ended = true
	if s.sigCount == 0 {
		return
	}
	s.sigs = make([]sigState, s.sigCount)
	if s.overflow {
		for i := range s.sigs {
			s.sigs[i] = sigState{judged: true, res: Result{Result: Policy, Reason: "header section too large to verify", Err: ErrHeaderTooLarge}}
		}
		return
	}
	limit := s.v.maxSignatures()
	needCrypto := false
	for i, at := range s.sigAt {
		field := s.head[at[0]:at[1]]
		_, value, _ := bytes.Cut(field, []byte(":"))
		st := &s.sigs[i]
		st.sig, st.res.Err = ParseSignature(strings.TrimSuffix(string(value), "\r\n"))
		if st.sig != nil {
			st.res.Domain, st.res.Identifier, st.res.Selector = st.sig.Domain, st.sig.Identifier, st.sig.Selector
			st.res.Algorithm = st.sig.Algorithm
		}
		if i >= limit {
			// RFC 6376 §6.1: verifiers MAY limit the signatures tried.
			st.judged = true
			st.res.Result, st.res.Reason = Policy, "not verified: over the per-message signature limit"
			st.res.Err = ErrTooManySignatures
			continue
		}
		if st.res.Err != nil {
			st.judged = true
			st.res.Result, st.res.Reason = PermError, parseReason(st.res.Err)
			continue
		}
		if r, reason, err := s.precheck(st.sig); err != nil {
			st.judged = true
			st.res.Result, st.res.Reason, st.res.Err = r, reason, err
			continue
		}
		if s.v.needsOwnPath(st.sig) {
			st.own = newBodyCanon(st.sig.BodyCanon == "relaxed")
			s.owns = append(s.owns, st.own)
			continue
		}
		needCrypto = true
	}
	s.setHeaderB()
	s.keys = make(map[string]*keyFetch)
	if !needCrypto {
		return
	}
	pr, pw := io.Pipe()
	s.pw, s.done = pw, make(chan struct{})
	opts := &msgauth.VerifyOptions{LookupTXT: s.lookupTXT, MaxVerifications: limit}
	// go-msgauth reads the header from memory and only the body through
	// the pipe, so EndHeaders never blocks.
	r := io.MultiReader(bytes.NewReader(s.head), strings.NewReader("\r\n"), pr)
	go func() {
		defer close(s.done)
		// go-milter's recover covers only the connection's goroutine: a
		// panic in go-msgauth on hostile input must cost this message's
		// signatures (permerror), not the whole daemon.
		defer func() {
			if r := recover(); r != nil {
				s.verifs, s.verr = nil, fmt.Errorf("%w: panic in go-msgauth: %v", ErrVerifier, r)
				pr.CloseWithError(errVerifierDone)
			}
		}()
		s.verifs, s.verr = msgauth.VerifyWithOptions(r, opts)
		// go-msgauth may stop reading early (a permanent failure before
		// the body hash): unblock Body instead of draining into it.
		pr.CloseWithError(errVerifierDone)
	}()
}

// precheck applies the checks that need neither DNS nor hashing and that
// go-msgauth either lacks (injected clock, l= as policy) or does only after
// a key lookup (algorithms, RFC 8301).
func (s *Session) precheck(sig *Signature) (result, reason string, err error) {
	switch sig.Algorithm {
	case "rsa-sha256", "ed25519-sha256": // RFC 6376 §3.3, RFC 8463 §3
	case "rsa-sha1":
		// RFC 8301 §3.1: rsa-sha1 MUST NOT be used for verifying.
		return PermError, "rsa-sha1 not accepted per RFC 8301", ErrWeakAlgorithm
	default:
		return PermError, "unsupported algorithm", ErrAlgorithm
	}
	for _, c := range []string{sig.HeaderCanon, sig.BodyCanon} {
		if c != "simple" && c != "relaxed" { // RFC 6376 §3.4
			return PermError, "unsupported canonicalization", ErrCanonicalization
		}
	}
	dnstxt := false
	for _, q := range sig.QueryMethods {
		// RFC 6376 §3.5 q=: "dns/txt" is the only method defined.
		if strings.EqualFold(q, "dns/txt") {
			dnstxt = true
		}
	}
	if !dnstxt {
		return PermError, "unsupported key query method", ErrQueryMethod
	}
	// RFC 6376 §3.5 x= and §6.1.1: past the expiration the signature is
	// PERMFAIL (signature expired).
	if sig.HasExpiration && s.v.now().Unix() > sig.Expiration {
		return PermError, "signature expired", ErrExpired
	}
	// l= lets anyone append unsigned content (RFC 6376 §8.2); go-msgauth
	// refuses it, and that refusal is local policy, not a broken
	// signature.
	if sig.HasBodyLength {
		return Policy, "l= body length limit not accepted", ErrBodyLength
	}
	return "", "", nil
}

func parseReason(err error) string {
	switch {
	case errors.Is(err, ErrVersion):
		return "unsupported signature version"
	case errors.Is(err, ErrMissingTag):
		return "signature missing a required tag"
	case errors.Is(err, ErrFromNotSigned):
		return "From field not signed"
	case errors.Is(err, ErrIdentifier):
		return "i= not within d="
	case errors.Is(err, ErrTimestamp):
		return "x= not after t="
	default:
		return "malformed signature"
	}
}

// setHeaderB gives each signature the shortest prefix of its b= that is
// at least 8 characters and differs from every other signature's prefix
// (RFC 6008 §4). Identical b= values get the whole value. Sorting makes
// this O(n log n): the longest prefix a value shares with any other is the
// one it shares with a sorted neighbour.
func (s *Session) setHeaderB() {
	idx := make([]int, 0, len(s.sigs))
	for i := range s.sigs {
		if s.sigs[i].sig != nil {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(x, y int) int { return strings.Compare(s.sigs[x].sig.B, s.sigs[y].sig.B) })
	for k, i := range idx {
		b := s.sigs[i].sig.B
		n := min(bPrefixLen, len(b))
		for _, j := range []int{k - 1, k + 1} {
			if j < 0 || j >= len(idx) {
				continue
			}
			o := s.sigs[idx[j]].sig.B
			c := 0
			for c < len(b) && c < len(o) && b[c] == o[c] {
				c++
			}
			n = max(n, min(c+1, len(b)))
		}
		s.sigs[i].res.B = b[:n]
	}
}

// lookupTXT is go-msgauth's key lookup. It remembers each answer per name
// (parallel signatures may share a key) so that Close can parse the same
// record for KeyBits and the checks go-msgauth skips. go-msgauth asserts
// net.Error on the returned error itself, so temporary failures are
// returned as a bare *net.DNSError with IsTemporary set.
func (s *Session) lookupTXT(name string) ([]string, error) {
	key := strings.ToLower(name)
	s.mu.Lock()
	f, ok := s.keys[key]
	if !ok {
		f = &keyFetch{ready: make(chan struct{})}
		s.keys[key] = f
	}
	s.mu.Unlock()
	if ok {
		<-f.ready
	} else {
		f.txt, f.err = s.v.Resolver.LookupTXT(s.ctx, name)
		close(f.ready)
	}
	if f.err == nil {
		return f.txt, nil
	}
	if resolver.IsTemporary(f.err) {
		return nil, &net.DNSError{Err: f.err.Error(), Name: name, IsTemporary: true}
	}
	return nil, &net.DNSError{Err: f.err.Error(), Name: name, IsNotFound: resolver.IsNotFound(f.err)}
}

func (s *Session) fetched(sig *Signature) *keyFetch {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.keys[strings.ToLower(sig.Selector+"._domainkey."+sig.Domain)]
	if f == nil {
		return nil
	}
	select {
	case <-f.ready:
		return f
	default:
		return nil
	}
}

// Body streams one chunk of the body (as received; bare LF is turned into
// CRLF, also across chunk boundaries). It blocks while go-msgauth catches
// up, which includes waiting for key lookups. It returns ErrNotEnded before
// EndHeaders and ErrClosed after Close or Abort.
func (s *Session) Body(chunk []byte) error {
	if s.closed {
		return ErrClosed
	}
	if !s.ended {
		return ErrNotEnded
	}
	if len(chunk) == 0 || ((s.pw == nil || s.readerDone) && len(s.owns) == 0) {
		return nil
	}
	data := s.lf.Normalize(chunk)
	for _, o := range s.owns {
		o.Write(data)
	}
	if s.pw == nil || s.readerDone {
		return nil
	}
	if _, err := s.pw.Write(data); err != nil {
		if errors.Is(err, errVerifierDone) {
			s.readerDone = true
			return nil
		}
		return errors.Join(ErrClosed, err)
	}
	return nil
}

// Close ends the body, waits for verification and returns one Result per
// DKIM-Signature field in header order, or nil when there is none. Calling
// it again returns the same results.
func (s *Session) Close() []Result {
	if s.closed {
		return s.results
	}
	s.EndHeaders()
	s.closed = true
	// The clock-skew path still looks keys up below.
	defer s.cancel()
	if s.pw != nil {
		s.pw.Close()
		<-s.done
	}
	if s.sigCount == 0 {
		return nil
	}
	s.results = make([]Result, len(s.sigs))
	for i := range s.sigs {
		st := &s.sigs[i]
		if st.judged {
			s.results[i] = st.res
			continue
		}
		if st.own != nil {
			s.results[i] = s.verifyOwn(st, s.sigAt[i], st.own)
			continue
		}
		// go-msgauth verifies the first MaxSignatures fields, judged or
		// not, so its i-th verification is our i-th signature.
		s.results[i] = s.finish(st, i)
	}
	s.head, s.lf, s.owns = nil, crlf.Stream{}, nil
	return s.results
}

// finish combines go-msgauth's verification with our own view of the key.
func (s *Session) finish(st *sigState, n int) Result {
	res := st.res
	want := min(len(s.sigs), s.v.maxSignatures())
	if (s.verr != nil && !errors.Is(s.verr, msgauth.ErrTooManySignatures)) || len(s.verifs) != want || n >= want {
		res.Result, res.Reason = TempError, "verification did not complete"
		res.Err = errors.Join(ErrIncomplete, s.verr)
		return res
	}
	vf := s.verifs[n]
	// Guard the pairing: go-msgauth fills Domain and HeaderKeys from the
	// signature it verified; they must be this signature's.
	if vf.Domain != st.sig.Domain || (vf.Err == nil && !slices.Equal(vf.HeaderKeys, st.sig.SignedHeaders)) {
		res.Result, res.Reason = PermError, "signature could not be matched to its verification"
		res.Err = fmt.Errorf("%w: verified d=%q, expected d=%q", ErrIncomplete, vf.Domain, st.sig.Domain)
		return res
	}
	var key *publicKey
	if f := s.fetched(st.sig); f != nil {
		var r, reason string
		var err error
		key, r, reason, err = s.checkKey(st.sig, f)
		if err != nil {
			res.Result, res.Reason, res.Err = r, reason, err
			if key != nil {
				res.KeyBits = key.bits
			}
			return res
		}
		res.KeyBits = key.bits
	}
	switch err := vf.Err; {
	case err == nil:
		res.Result = Pass
		if key != nil && key.hasFlag("y") {
			// RFC 6376 §3.6.1 t=y: testing mode. Reported, not acted on.
			res.Reason = "key in testing mode"
		}
	case msgauth.IsTempFail(err):
		res.Result, res.Reason, res.Err = TempError, "key lookup failed temporarily", errors.Join(ErrKeyUnavailable, err)
	case msgauth.IsPermFail(err) && strings.Contains(err.Error(), "expired"):
		// go-msgauth checks x= against the process clock, which can
		// disagree with Verifier.Now (precheck found it unexpired).
		res.Result, res.Reason, res.Err = PermError, "signature expired by the system clock", errors.Join(ErrExpired, err)
	case msgauth.IsPermFail(err):
		res.Result, res.Reason, res.Err = PermError, "signature or key not usable", errors.Join(ErrVerifier, err)
	case strings.Contains(err.Error(), "body hash"):
		res.Result, res.Reason, res.Err = Fail, "body hash mismatch", errors.Join(ErrBodyHash, err)
	default:
		res.Result, res.Reason, res.Err = Fail, "signature mismatch", errors.Join(ErrBadSignature, err)
	}
	return res
}

// checkKey classifies the key lookup and record (RFC 6376 §3.6.2.2, §6.1.2)
// and applies the key checks go-msgauth skips (t=s, MinRSABits).
func (s *Session) checkKey(sig *Signature, f *keyFetch) (key *publicKey, result, reason string, err error) {
	switch {
	case f.err != nil && resolver.IsTemporary(f.err):
		// §6.1.2 step 2: TEMPFAIL (key unavailable).
		return nil, TempError, "key lookup failed temporarily", errors.Join(ErrKeyUnavailable, f.err)
	case f.err != nil && resolver.IsNotFound(f.err):
		// §6.1.2 step 3: PERMFAIL (no key for signature).
		return nil, PermError, "no key for signature", errors.Join(ErrKeyNotFound, f.err)
	case f.err != nil:
		return nil, PermError, "key lookup failed", errors.Join(ErrKeyLookup, f.err)
	case len(f.txt) == 0:
		return nil, PermError, "no key for signature", ErrKeyNotFound
	case len(f.txt) > 1:
		// §3.6.2.2: multiple records give undefined results; go-msgauth
		// refuses them too.
		return nil, PermError, "multiple key records", ErrMultipleKeys
	}
	key, err = parseKeyRecord(f.txt[0])
	switch {
	case errors.Is(err, ErrKeyRevoked):
		return nil, PermError, "key revoked", err
	case errors.Is(err, ErrKeyUnsupported):
		return nil, PermError, "unsupported key type", err
	case err != nil:
		return nil, PermError, "malformed key record", err
	}
	keyAlg, hashAlg, _ := strings.Cut(sig.Algorithm, "-")
	if key.keyType != keyAlg {
		return key, PermError, "key type does not match a=", ErrKeyMismatch
	}
	if key.hashes != nil && !contains(key.hashes, hashAlg) {
		// §3.6.1 h=: the signature's hash must be listed.
		return key, PermError, "hash algorithm not allowed by key", ErrKeyMismatch
	}
	if key.services != nil && !contains(key.services, "*") && !contains(key.services, "email") {
		// §3.6.1 s=: the key must be for email (or "*").
		return key, PermError, "key not for email", ErrKeyMismatch
	}
	if key.hasFlag("s") && !sig.identifierIsAuto {
		// §3.6.1 t=s: the i= domain must equal d=, not a subdomain.
		idom := sig.Identifier[strings.LastIndexByte(sig.Identifier, '@')+1:]
		if !strings.EqualFold(idom, sig.Domain) {
			return key, PermError, "key requires i= domain equal to d=", ErrKeyMismatch
		}
	}
	if key.keyType == "rsa" && key.bits < s.v.minRSABits() {
		// RFC 8301 §3.2.
		return key, PermError, "RSA key too small", ErrKeyTooSmall
	}
	return key, "", "", nil
}

func contains(list []string, x string) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}

// Abort abandons the message: it cancels key lookups, ends the stream and
// waits for the verifier goroutine to exit, so nothing is left running.
// The wait is bounded by how fast the Resolver honours cancellation.
func (s *Session) Abort() {
	if s.closed {
		return
	}
	s.closed = true
	s.cancel()
	if s.pw != nil {
		// A clean EOF, not CloseWithError: go-msgauth's parallel path
		// leaves its per-signature goroutines blocked if the reader
		// fails, while at EOF it closes their pipes and they all return.
		s.pw.Close()
		<-s.done
	}
	s.head, s.lf, s.sigs, s.owns = nil, crlf.Stream{}, nil, nil
}
