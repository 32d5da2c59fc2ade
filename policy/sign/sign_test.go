package sign

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/authmilter/authmilter/policy/crlf"
	"math/big"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"github.com/authmilter/authmilter/keystore"
	"github.com/authmilter/authmilter/policy/dkim"
	"github.com/authmilter/authmilter/resolver"
)

const baseHeader = "From: Joe SixPack <joe@example.com>\r\n" +
	"To: Suzie Q <suzie@shopping.example.net>\r\n" +
	"Subject: Is dinner ready?\r\n" +
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" +
	"Message-ID: <20030712040037.46341.5F8J@example.com>\r\n"

// testMessages are the shapes issue #4 asks the round trip to cover.
var testMessages = []struct {
	name string
	msg  string
}{
	{"plain", baseHeader + "\r\nHi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n"},
	{"folded headers", "Received: from mx.example.net by mx.example.com;\r\n\tTue, 1 Dec 2026 02:00:00 +0000\r\n" +
		"From: \"Joe\r\n\t SixPack\" <joe@example.com>\r\n" +
		"To: a@example.net,\r\n  b@example.net,\r\n\tc@example.net\r\n" +
		"Subject:   A subject   folded\r\n  over\t\tthree\r\n lines   \r\n" +
		"Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n charset=utf-8\r\n\r\nbody  with\t spaces  \r\n"},
	{"long lines", baseHeader + "\r\n" + strings.Repeat("x", 1500) + "\r\n" + strings.Repeat("y ", 700) + "\r\nend\r\n"},
	{"8-bit body", baseHeader + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"Grüße aus Köln — ½ € \xff\xfe\x80 raw octets\r\n"},
	{"empty body", baseHeader + "\r\n"},
	{"trailing blank lines", baseHeader + "\r\nJoe.\r\n\r\n\r\n\r\n"},
	{"trailing whitespace lines", baseHeader + "\r\nJoe.  \r\n \t\r\n\r\n"},
	{"no final CRLF", baseHeader + "\r\nHi.\r\n\r\nJoe."},
	{"bare LF", strings.ReplaceAll(baseHeader+"Subject: folded\n over LF\n\nHi.\n\nWe lost the game.\n\n\n", "\r\n", "\n")},
	{"mixed line ends", baseHeader + "\r\nline one\nline two\r\nline three\r\rstray CR\r\n"},
	{"lone CR at end", baseHeader + "\r\nJoe.\r"},
	{"trace and list fields", "Return-Path: <bounce@example.com>\r\nReceived: by mx;\r\n Tue, 1 Dec 2026\r\n" +
		"Authentication-Results: mx.example.com; spf=pass\r\nX-Spam-Status: No\r\nARC-Seal: i=1; cv=none\r\n" +
		baseHeader + "List-Id: <list.example.com>\r\nList-Unsubscribe: <mailto:u@example.com>\r\n" +
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nReply-To: r@example.com\r\n\r\nHi.\r\n"},
	{"repeated fields", baseHeader + "To: second@example.net\r\nReferences: <a@x>\r\nReferences: <b@x>\r\n\r\nHi.\r\n"},
	{"lower-case names", strings.ToLower(baseHeader) + "\r\nHi.\r\n"},
}

// TestRoundTrip: everything signed passes our own verifier, for both key
// types, every canonicalization pair, every message shape and every chunk
// size.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	ks := []*keystore.Key{rsaKey(k), edKey(k)}
	publish(t, f, ks...)
	for _, key := range ks {
		for _, cp := range canonPairs {
			for _, m := range testMessages {
				for _, n := range chunkSizes {
					name := fmt.Sprintf("%s/%s-%s/%s/%d", key.Name, cp[0], cp[1], m.name, n)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						o := Options{HeaderCanon: cp[0], BodyCanon: cp[1]}
						sigs := mustSign(t, []byte(m.msg), n, o, key)
						if c, _ := tag(t, sigs[0].Field, "c"); c != cp[0]+"/"+cp[1] {
							t.Errorf("c=%s", c)
						}
						res := verify(t, f, prepend([]byte(m.msg), sigs), n, time.Time{})
						if len(res) != 1 || res[0].Result != dkim.Pass {
							t.Fatalf("verify: %+v\n%s", res, sigs[0].Field)
						}
						if res[0].Domain != key.Domain || res[0].Selector != key.Selector || res[0].Algorithm != key.Algorithm {
							t.Errorf("result %+v does not name the key %v", res[0], key)
						}
					})
				}
			}
		}
	}
}

// TestMatchesGoMsgauth signs each message with go-msgauth's complete
// signer and with ours at the same t= and the same h=: RSA PKCS#1 v1.5 and
// Ed25519 are deterministic, so the fields must be identical byte for byte.
// This holds our header hashing and field layout to an independent
// implementation, for every canonicalization pair.
func TestMatchesGoMsgauth(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	for _, key := range []*keystore.Key{rsaKey(k), edKey(k)} {
		for _, cp := range canonPairs {
			for _, m := range testMessages {
				t.Run(key.Name+"/"+cp[0]+"-"+cp[1]+"/"+m.name, func(t *testing.T) {
					t.Parallel()
					o := Options{HeaderCanon: cp[0], BodyCanon: cp[1], Oversign: []string{"From", "Subject"}}
					fields, _ := splitMessage(t, []byte(m.msg))
					s := NewSession(nil, o)
					for _, f := range fields {
						s.Header(f)
					}
					hl := HeaderList(o, s.names())
					// go-msgauth reads the message with CRLF line ends,
					// as an MTA passes it on.
					wire := crlf.Append(nil, []byte(m.msg), false)
					var out bytes.Buffer
					err := msgauth.Sign(&out, bytes.NewReader(wire), &msgauth.SignOptions{
						Domain: key.Domain, Selector: key.Selector, Signer: key.Signer,
						HeaderCanonicalization: msgauth.Canonicalization(cp[0]),
						BodyCanonicalization:   msgauth.Canonicalization(cp[1]),
						HeaderKeys:             hl,
					})
					if err != nil {
						t.Fatal(err)
					}
					theirs := strings.TrimSuffix(out.String(), string(wire))
					ts, _ := tag(t, theirs, "t")
					sec, err := strconv.ParseInt(ts, 10, 64)
					if err != nil {
						t.Fatalf("t=%q: %v", ts, err)
					}
					o.Now = func() time.Time { return time.Unix(sec, 0) }
					ours := mustSign(t, []byte(m.msg), 7, o, key)
					if ours[0].Field != theirs {
						t.Errorf("fields differ\nours:   %q\ntheirs: %q", ours[0].Field, theirs)
					}
				})
			}
		}
	}
}

func readTestdata(t testing.TB, path ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVectors reproduces go-msgauth's deterministic signing vectors
// (testdata/go-msgauth-sign, see SOURCE.md) byte for byte: the RFC 6376
// Appendix C RSA key and the RFC 8463 Appendix A Ed25519 key, t=424242,
// simple/simple, h=From:To:Subject:Date:Message-ID, no oversigning.
func TestVectors(t *testing.T) {
	t.Parallel()
	block, _ := pem.Decode(readTestdata(t, "keys", "brisbane.example.com.rsa-private.pem"))
	if block == nil {
		t.Fatal("no PEM block")
	}
	rk, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(readTestdata(t, "keys", "brisbane.football.example.com.ed25519-seed.b64"))))
	if err != nil {
		t.Fatal(err)
	}
	unsigned := readTestdata(t, "go-msgauth-sign", "unsigned.eml")
	f := resolver.NewFake()
	for _, line := range strings.Split(strings.TrimSpace(string(readTestdata(t, "go-msgauth-sign", "dns-records.txt"))), "\n") {
		name, rest, _ := strings.Cut(line, " TXT ")
		f.AddTXT(strings.TrimSuffix(name, "."), strings.Trim(rest, `"`))
	}
	for _, tc := range []struct {
		name, file string
		key        *keystore.Key
	}{
		{"rsa", "signed-rsa.eml", &keystore.Key{Name: "v", Domain: "example.org", Selector: "brisbane", Signer: rk}},
		{"ed25519", "signed-ed25519.eml", &keystore.Key{Name: "v", Domain: "football.example.com", Selector: "brisbane", Signer: ed25519.NewKeyFromSeed(seed)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := readTestdata(t, "go-msgauth-sign", tc.file)
			o := Options{HeaderCanon: Simple, BodyCanon: Simple,
				Headers: []string{"From", "To", "Subject", "Date", "Message-ID"}, Oversign: []string{},
				Now: func() time.Time { return time.Unix(424242, 0) }}
			for _, n := range chunkSizes {
				sigs := mustSign(t, unsigned, n, o, tc.key)
				if got := prepend(unsigned, sigs); !bytes.Equal(got, want) {
					t.Fatalf("chunk %d: signed message differs\ngot:  %q\nwant: %q", n, got, want)
				}
				if res := verify(t, f, want, n, time.Time{}); len(res) != 1 || res[0].Result != dkim.Pass {
					t.Fatalf("vector does not verify: %+v", res)
				}
			}
		})
	}
}

// TestKnownBodyHashes checks bh= against SHA-256 of the canonical body
// worked out by hand from RFC 6376 §3.4.3 (simple: trailing empty lines
// dropped, an empty body is CRLF) and §3.4.4 (relaxed: whitespace runs
// become one space, trailing whitespace and empty lines go, an empty body
// stays empty), independently of go-msgauth.
func TestKnownBodyHashes(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return base64.StdEncoding.EncodeToString(sum[:])
	}
	for _, tc := range []struct{ canon, body, want string }{
		{Simple, "", hash("\r\n")},
		{Simple, "\r\n\r\n\r\n", hash("\r\n")},
		{Simple, "a \r\n\r\n", hash("a \r\n")},
		{Simple, "a", hash("a\r\n")},
		{Relaxed, "", hash("")},
		{Relaxed, " \r\n\t\r\n", hash("")},
		{Relaxed, "a \t b  \r\n\r\n", hash("a b\r\n")},
		{Relaxed, "a", hash("a\r\n")},
	} {
		t.Run(fmt.Sprintf("%s/%q", tc.canon, tc.body), func(t *testing.T) {
			t.Parallel()
			sigs := mustSign(t, []byte(baseHeader+"\r\n"+tc.body), 1, Options{BodyCanon: tc.canon}, edKey(k))
			if bh, _ := tag(t, sigs[0].Field, "bh"); bh != tc.want {
				t.Errorf("bh=%s, want %s", bh, tc.want)
			}
		})
	}
}

// TestDualSigning: an RSA and an Ed25519 key in one Session give two
// signatures, in key order, with one body hash, and both pass.
func TestDualSigning(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	ks := []*keystore.Key{rsaKey(k), edKey(k)}
	publish(t, f, ks...)
	msg := []byte(testMessages[0].msg)
	for _, order := range [][]*keystore.Key{ks, {ks[1], ks[0]}} {
		t.Run(order[0].Name+"-first", func(t *testing.T) {
			t.Parallel()
			sigs := mustSign(t, msg, 7, Options{}, order...)
			for i, s := range sigs {
				if s.KeyName != order[i].Name || s.Algorithm != order[i].Algorithm || s.Selector != order[i].Selector || s.Domain != order[i].Domain {
					t.Errorf("signature %d is %+v, want key %v", i, s, order[i])
				}
				if a, _ := tag(t, s.Field, "a"); a != order[i].Algorithm {
					t.Errorf("signature %d: a=%s", i, a)
				}
			}
			bh0, _ := tag(t, sigs[0].Field, "bh")
			bh1, _ := tag(t, sigs[1].Field, "bh")
			if bh0 != bh1 {
				t.Errorf("body hashes differ: %s %s", bh0, bh1)
			}
			res := verify(t, f, prepend(msg, sigs), 4096, time.Time{})
			if len(res) != 2 || res[0].Result != dkim.Pass || res[1].Result != dkim.Pass {
				t.Fatalf("verify: %+v", res)
			}
		})
	}
}

// TestOversign: with From oversigned (the default), a second From added
// after signing breaks the signature wherever it is added (RFC 6376
// §8.15). Without oversigning, a From added above the signed one is not
// covered, which is the attack oversigning exists for.
func TestOversign(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	key := edKey(k)
	publish(t, f, key)
	msg := testMessages[0].msg
	forged := "From: ceo@example.com\r\n"
	top := func(m string) string { return forged + m }
	bottom := func(m string) string {
		h, b, _ := strings.Cut(m, "\r\n\r\n")
		return h + "\r\n" + forged + "\r\n" + b
	}
	for _, tc := range []struct {
		name     string
		oversign []string
		add      func(string) string
		want     string
	}{
		{"oversigned/added on top", nil, top, dkim.Fail},
		{"oversigned/added at bottom", nil, bottom, dkim.Fail},
		{"oversigned/untouched", nil, func(m string) string { return m }, dkim.Pass},
		{"not oversigned/added on top", []string{}, top, dkim.Pass},
		{"not oversigned/added at bottom", []string{}, bottom, dkim.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sigs := mustSign(t, []byte(msg), 4096, Options{Oversign: tc.oversign}, key)
			h, _ := tag(t, sigs[0].Field, "h")
			if froms := strings.Count(strings.ToLower(h), "from"); (tc.oversign == nil) != (froms == 2) {
				t.Errorf("h=%s", h)
			}
			signed := string(prepend([]byte(msg), sigs))
			sigField, rest, _ := strings.Cut(signed, "\r\nFrom:")
			res := verify(t, f, []byte(sigField+"\r\n"+tc.add("From:"+rest)), 4096, time.Time{})
			if len(res) != 1 || res[0].Result != tc.want {
				t.Fatalf("verify: %+v, want %s", res, tc.want)
			}
		})
	}
}

// TestExpire: x= = t= + Expire when Expire > 0 (RFC 6376 §3.5), absent
// otherwise; the signature passes before x= and fails after it.
func TestExpire(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	key := rsaKey(k)
	publish(t, f, key)
	at := time.Date(2026, 12, 1, 2, 33, 0, 0, time.UTC)
	msg := []byte(testMessages[0].msg)
	for _, tc := range []struct {
		name   string
		expire time.Duration
		want   string // x= value, "" for none
	}{
		{"none", 0, ""},
		{"one hour", time.Hour, strconv.FormatInt(at.Unix()+3600, 10)},
		{"sub-second rounds up to one second", time.Millisecond, strconv.FormatInt(at.Unix()+1, 10)},
		{"fractional seconds rounded down", 90*time.Second + 999*time.Millisecond, strconv.FormatInt(at.Unix()+90, 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sigs := mustSign(t, msg, 4096, Options{Expire: tc.expire, Now: func() time.Time { return at }}, key)
			if ts, _ := tag(t, sigs[0].Field, "t"); ts != strconv.FormatInt(at.Unix(), 10) {
				t.Errorf("t=%s", ts)
			}
			x, ok := tag(t, sigs[0].Field, "x")
			if x != tc.want || ok != (tc.want != "") {
				t.Fatalf("x=%q (present %v), want %q", x, ok, tc.want)
			}
			signed := prepend(msg, sigs)
			if res := verify(t, f, signed, 4096, at); len(res) != 1 || res[0].Result != dkim.Pass {
				t.Fatalf("at signing time: %+v", res)
			}
			if tc.expire > 0 {
				res := verify(t, f, signed, 4096, at.Add(tc.expire+2*time.Second))
				if len(res) != 1 || res[0].Result == dkim.Pass || !errors.Is(res[0].Err, dkim.ErrExpired) {
					t.Fatalf("after x=: %+v", res)
				}
			}
		})
	}
}

// TestSignedHeaders: h= holds what the profile says for the fields
// present, never trace fields, whatever the options.
func TestSignedHeaders(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	var msg string
	for _, m := range testMessages {
		if m.name == "trace and list fields" {
			msg = m.msg
		}
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"default", Options{}, "From:From:To:Subject:Date:Message-ID:Reply-To:List-Id:List-Unsubscribe:List-Unsubscribe-Post"},
		{"minimal", Options{Profile: ProfileMinimal}, "From:From:To:Date:Message-ID"},
		{"custom asks for trace fields", Options{Headers: []string{"Received", "Subject", "Authentication-Results", "X-Spam-Status", "Return-Path", "DKIM-Signature", "ARC-Seal"},
			Oversign: []string{"Received", "Subject"}}, "From:Subject:Subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sigs := mustSign(t, []byte(msg), 4096, tc.o, edKey(k))
			h, _ := tag(t, sigs[0].Field, "h")
			if h != tc.want {
				t.Errorf("h=%s, want %s", h, tc.want)
			}
			for _, bad := range []string{"received", "authentication-results", "return-path", "x-", "dkim-signature", "arc-"} {
				if strings.Contains(strings.ToLower(h), bad) {
					t.Errorf("h= contains %s", bad)
				}
			}
		})
	}
}

// smallRSA claims a 512-bit RSA public key.
type smallRSA struct{ crypto.Signer }

func (smallRSA) Public() crypto.PublicKey {
	n := new(big.Int).Lsh(big.NewInt(1), 511)
	return &rsa.PublicKey{N: n.Add(n, big.NewInt(1)), E: 65537}
}

// TestErrors: each failure is reported with its sentinel, by EndHeaders
// and again by Body and Close; nothing is signed.
func TestErrors(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	good := edKey(k)
	with := func(mod func(*keystore.Key)) *keystore.Key {
		c := *good
		mod(&c)
		return &c
	}
	noFrom := "To: a@example.net\r\nSubject: x\r\n\r\nHi.\r\n"
	for _, tc := range []struct {
		name string
		msg  string
		o    Options
		keys []*keystore.Key
		want error
	}{
		{"no From", noFrom, Options{}, []*keystore.Key{good}, ErrNoFrom},
		{"From only in a continuation line", "To: a@example.net,\r\n From: x@example.com\r\n\r\nHi.\r\n", Options{}, []*keystore.Key{good}, ErrNoFrom},
		{"no keys", testMessages[0].msg, Options{}, nil, ErrKey},
		{"nil key", testMessages[0].msg, Options{}, []*keystore.Key{nil}, ErrKey},
		{"no signer", testMessages[0].msg, Options{}, []*keystore.Key{with(func(k *keystore.Key) { k.Signer = nil })}, ErrKey},
		{"no selector", testMessages[0].msg, Options{}, []*keystore.Key{with(func(k *keystore.Key) { k.Selector = "" })}, ErrKey},
		{"unresolved %", testMessages[0].msg, Options{}, []*keystore.Key{with(func(k *keystore.Key) { k.Domain = "%" })}, ErrKey},
		{"algorithm mismatch", testMessages[0].msg, Options{}, []*keystore.Key{with(func(k *keystore.Key) { k.Algorithm = keystore.RSASHA256 })}, ErrKey},
		{"RSA under 1024 bits", testMessages[0].msg, Options{}, []*keystore.Key{with(func(k *keystore.Key) { k.Signer, k.Algorithm = smallRSA{k.Signer}, "" })}, ErrKey},
		{"bad canonicalization", testMessages[0].msg, Options{BodyCanon: "nofws"}, []*keystore.Key{good}, ErrOptions},
		{"bad profile", testMessages[0].msg, Options{Profile: "strict"}, []*keystore.Key{good}, ErrOptions},
		{"negative expiry", testMessages[0].msg, Options{Expire: -time.Second}, []*keystore.Key{good}, ErrOptions},
		{"signer fails", testMessages[0].msg, Options{}, []*keystore.Key{rsaKey(k), with(func(k *keystore.Key) { k.Signer = failingSigner{k.Signer} })}, ErrSign},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sigs, err := signMessage(t, []byte(tc.msg), 7, tc.o, tc.keys...)
			if !errors.Is(err, tc.want) || sigs != nil {
				t.Fatalf("got %v, %v; want %v", sigs, err, tc.want)
			}
			fields, _ := splitMessage(t, []byte(tc.msg))
			s := NewSession(tc.keys, tc.o)
			for _, f := range fields {
				s.Header(f)
			}
			if err := s.EndHeaders(); tc.want == ErrSign {
				if err != nil {
					t.Fatalf("EndHeaders: %v", err)
				}
			} else {
				if !errors.Is(err, tc.want) {
					t.Fatalf("EndHeaders: %v", err)
				}
				if err := s.Body([]byte("x\r\n")); !errors.Is(err, tc.want) {
					t.Errorf("Body: %v", err)
				}
			}
			if sigs, err := s.Close(); !errors.Is(err, tc.want) || sigs != nil {
				t.Errorf("Close: %v, %v", sigs, err)
			}
			if errors.Is(tc.want, ErrSign) && !errors.Is(err, errSignerBroken) {
				t.Errorf("ErrSign does not wrap the signer's error: %v", err)
			}
		})
	}
}

// TestMisuse: calls out of order get ErrNotEnded or ErrClosed.
func TestMisuse(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	s := NewSession([]*keystore.Key{edKey(k)}, Options{})
	s.Header([]byte("From: a@example.com\r\n"))
	if err := s.Body([]byte("x")); !errors.Is(err, ErrNotEnded) {
		t.Errorf("Body before EndHeaders: %v", err)
	}
	if _, err := s.Close(); !errors.Is(err, ErrNotEnded) {
		t.Errorf("Close before EndHeaders: %v", err)
	}
	if err := s.EndHeaders(); err != nil {
		t.Fatal(err)
	}
	if err := s.EndHeaders(); err != nil {
		t.Errorf("second EndHeaders: %v", err)
	}
	s.Header([]byte("Subject: after the end\r\n"))
	sigs, err := s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := tag(t, sigs[0].Field, "h"); h != "From:From" {
		t.Errorf("h=%s: a field after EndHeaders was signed", h)
	}
	if _, err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Body([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Body after Close: %v", err)
	}
	if err := s.EndHeaders(); !errors.Is(err, ErrClosed) {
		t.Errorf("EndHeaders after Close: %v", err)
	}
	s.Abort()
	s.Abort()
}

// TestValue: Value is what a milter InsertHeader needs, and
// "DKIM-Signature: " + Value + CRLF is Field again.
func TestValue(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	sigs := mustSign(t, []byte(testMessages[0].msg), 4096, Options{}, rsaKey(k), edKey(k))
	for _, s := range sigs {
		if "DKIM-Signature: "+s.Value+"\r\n" != s.Field {
			t.Errorf("Value %q does not rebuild Field %q", s.Value, s.Field)
		}
		if strings.HasPrefix(s.Value, " ") || strings.HasSuffix(s.Value, "\n") || strings.Contains(strings.ReplaceAll(s.Value, "\r\n ", ""), "\n") {
			t.Errorf("Value %q: leading space, final line end or bad folding", s.Value)
		}
		for _, line := range strings.Split(s.Field, "\r\n") {
			if len(line) > 998 { // RFC 5322 §2.1.1
				t.Errorf("line of %d octets: %q", len(line), line)
			}
		}
	}
}

// goroutines counts live goroutines started by go-msgauth's signer.
func goroutines(t *testing.T) int {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	return strings.Count(b.String(), "go-msgauth/dkim.NewSigner")
}

// TestAbortNoLeak: Abort at any stage stops go-msgauth's goroutine. Not
// parallel: it counts goroutines of the whole process.
func TestAbortNoLeak(t *testing.T) {
	k := loadKeys(t)
	ks := []*keystore.Key{rsaKey(k), edKey(k)}
	before := goroutines(t)
	for round := range 20 {
		s := NewSession(ks, Options{})
		s.Header([]byte("From: a@example.com\r\n"))
		if round%4 > 0 {
			if err := s.EndHeaders(); err != nil {
				t.Fatal(err)
			}
		}
		if round%4 > 1 {
			if err := s.Body([]byte("part of a body\r\n")); err != nil {
				t.Fatal(err)
			}
		}
		if round%4 > 2 {
			if _, err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
		s.Abort()
		if err := s.Body([]byte("x")); !errors.Is(err, ErrClosed) {
			t.Errorf("Body after Abort: %v", err)
		}
	}
	// Close of go-msgauth's signer waits for its goroutine's result; the
	// goroutine may still be returning: poll, bounded.
	after := goroutines(t)
	for i := 0; i < 500 && after > before; i++ {
		time.Sleep(10 * time.Millisecond)
		after = goroutines(t)
	}
	if after > before {
		t.Errorf("%d signer goroutines before, %d after", before, after)
	}
}

// TestSessionsShareKeys: concurrent Sessions on the same keys (run with
// -race).
func TestSessionsShareKeys(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	ks := []*keystore.Key{rsaKey(k), edKey(k)}
	publish(t, f, ks...)
	for i := range 8 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			msg := []byte(baseHeader + "\r\nmessage " + strconv.Itoa(i) + "\r\n")
			res := verify(t, f, prepend(msg, mustSign(t, msg, 3, Options{}, ks...)), 5, time.Time{})
			if len(res) != 2 || res[0].Result != dkim.Pass || res[1].Result != dkim.Pass {
				t.Fatalf("%+v", res)
			}
		})
	}
}

// BenchmarkSign1MiB signs a 1 MiB body in 64 KiB chunks (Postfix's milter
// chunk size) with each key type.
func BenchmarkSign1MiB(b *testing.B) {
	k := loadKeys(b)
	line := []byte(strings.Repeat("0123456789abcdef ", 4) + "\r\n")
	body := bytes.Repeat(line, (1<<20)/len(line)+1)[:1<<20]
	head := [][]byte{[]byte("From: a@example.com\r\n"), []byte("To: b@example.net\r\n"), []byte("Subject: bench\r\n"),
		[]byte("Date: Tue, 1 Dec 2026 02:33:00 +0000\r\n"), []byte("Message-ID: <bench@example.com>\r\n")}
	for _, key := range []*keystore.Key{rsaKey(k), edKey(k)} {
		b.Run(key.Algorithm, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				s := NewSession([]*keystore.Key{key}, Options{})
				for _, h := range head {
					s.Header(h)
				}
				if err := s.EndHeaders(); err != nil {
					b.Fatal(err)
				}
				for rest := body; len(rest) > 0; {
					c := min(64<<10, len(rest))
					if err := s.Body(rest[:c]); err != nil {
						b.Fatal(err)
					}
					rest = rest[c:]
				}
				if _, err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
