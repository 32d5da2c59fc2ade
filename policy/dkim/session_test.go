package dkim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"github.com/authmilter/authmilter/resolver"
)

// testKeys are the RFC 8463 Appendix A keys from testdata.
type testKeys struct {
	rsa     *rsa.PrivateKey
	rsaP    string // base64 SubjectPublicKeyInfo
	ed      ed25519.PrivateKey
	edP     string // base64 raw public key
	unsign  []byte // go-msgauth-sign/unsigned.eml
	message []byte // unsign with a final CRLF
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func loadKeys(t testing.TB) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		block, _ := pem.Decode(readFile(t, "dkim-rfc-vectors", "rfc8463", "test.football.example.com.rsa-private.pem"))
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(readFile(t, "dkim-rfc-vectors", "rfc8463", "brisbane.football.example.com.ed25519-seed.b64"))))
		if err != nil {
			t.Fatal(err)
		}
		ed := ed25519.NewKeyFromSeed(seed)
		msg := readFile(t, "dkim-rfc-vectors", "go-msgauth-sign", "unsigned.eml")
		keys = testKeys{rsa: k, rsaP: base64.StdEncoding.EncodeToString(der), ed: ed,
			edP: base64.StdEncoding.EncodeToString(ed.Public().(ed25519.PublicKey)), unsign: msg,
			message: append(append([]byte(nil), msg...), "\r\n"...)}
	})
	if keys.rsa == nil {
		t.Fatal("test keys not loaded")
	}
	return &keys
}

// sign prepends a DKIM-Signature made by go-msgauth's signer to msg.
func sign(t testing.TB, msg []byte, o msgauth.SignOptions) []byte {
	t.Helper()
	if o.Hash == 0 {
		o.Hash = crypto.SHA256
	}
	if o.HeaderKeys == nil {
		o.HeaderKeys = []string{"From", "To", "Subject", "Date", "Message-ID"}
	}
	var out bytes.Buffer
	if err := msgauth.Sign(&out, bytes.NewReader(msg), &o); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestKeyRecords covers the key-record edge cases of Mail::DKIM's
// FAKE_DNS.dat and RFC 6376 §3.6.1 with rsa-sha256 signatures (the corpus
// ones are rsa-sha1 or pre-standard, so RFC 8301 stops them earlier).
func TestKeyRecords(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	const name = "sel._domainkey.example.com"
	cases := []struct {
		name     string
		records  []string // nil: NXDOMAIN
		timeout  bool
		servfail bool
		ident    string
		minBits  int
		want     string
		reason   string
		errIs    error
		keyBits  int
	}{
		{name: "good", records: []string{"v=DKIM1; k=rsa; p=" + k.rsaP}, want: Pass, keyBits: 1024},
		{name: "no-v-no-k", records: []string{"p=" + k.rsaP}, want: Pass, keyBits: 1024},
		{name: "extra-tags-fws", records: []string{"v=DKIM1; s=email:web ; x1 = extra ; t = n:extra; h=sha1:sha256; p=" + k.rsaP + " ; "}, want: Pass, keyBits: 1024},
		{name: "testing-mode", records: []string{"v=DKIM1; t=y; p=" + k.rsaP}, want: Pass, reason: "testing mode", keyBits: 1024},
		{name: "service-star", records: []string{"s=*; p=" + k.rsaP}, want: Pass, keyBits: 1024},
		{name: "strict-i-equal-d", records: []string{"t=s; p=" + k.rsaP}, ident: "joe@example.com", want: Pass, keyBits: 1024},
		{name: "strict-i-subdomain", records: []string{"t=s; p=" + k.rsaP}, ident: "joe@sub.example.com", want: PermError, reason: "i= domain equal to d=", errIs: ErrKeyMismatch, keyBits: 1024},
		{name: "nxdomain", want: PermError, reason: "no key", errIs: ErrKeyNotFound},
		{name: "timeout", timeout: true, want: TempError, reason: "temporarily", errIs: ErrKeyUnavailable},
		{name: "servfail", servfail: true, want: TempError, reason: "temporarily", errIs: ErrKeyUnavailable},
		{name: "revoked", records: []string{"k=rsa; t=y; p="}, want: PermError, reason: "revoked", errIs: ErrKeyRevoked},
		{name: "bad-version", records: []string{"v=DKIM3; p=" + k.rsaP}, want: PermError, reason: "malformed key", errIs: ErrKeySyntax},
		{name: "version-not-first", records: []string{"k=rsa; v=DKIM1; p=" + k.rsaP}, want: PermError, reason: "malformed key", errIs: ErrKeySyntax},
		{name: "tag-syntax", records: []string{"k=rsa; t; p=" + k.rsaP}, want: PermError, reason: "malformed key", errIs: ErrKeySyntax},
		{name: "no-p", records: []string{"v=DKIM1; k=rsa"}, want: PermError, reason: "malformed key", errIs: ErrKeySyntax},
		{name: "empty-record", records: []string{""}, want: PermError, reason: "malformed key", errIs: ErrKeySyntax},
		{name: "unknown-k", records: []string{"k=foobar; p=" + k.rsaP}, want: PermError, reason: "unsupported key type", errIs: ErrKeyUnsupported},
		{name: "ed25519-key-for-rsa-sig", records: []string{"k=ed25519; p=" + k.edP}, want: PermError, reason: "key type does not match", errIs: ErrKeyMismatch, keyBits: 256},
		{name: "service-chat", records: []string{"s=chat; p=" + k.rsaP}, want: PermError, reason: "not for email", errIs: ErrKeyMismatch, keyBits: 1024},
		{name: "hash-sha1-only", records: []string{"h=sha1; p=" + k.rsaP}, want: PermError, reason: "hash algorithm", errIs: ErrKeyMismatch, keyBits: 1024},
		{name: "two-records", records: []string{"p=" + k.rsaP, "p=" + k.rsaP}, want: PermError, reason: "multiple key records", errIs: ErrMultipleKeys},
		{name: "min-bits-2048", records: []string{"p=" + k.rsaP}, minBits: 2048, want: PermError, reason: "too small", errIs: ErrKeyTooSmall, keyBits: 1024},
		{name: "min-bits-below-rfc8301-raised", records: []string{"p=" + k.rsaP}, minBits: 512, want: Pass, keyBits: 1024},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := resolver.NewFake()
			if tc.records != nil {
				f.AddTXT(name, tc.records...)
			}
			f.Timeout[name] = tc.timeout
			f.Fail[name] = tc.servfail
			msg := sign(t, k.message, msgauth.SignOptions{Domain: "example.com", Selector: "sel", Identifier: tc.ident, Signer: k.rsa})
			res := driveAll(t, &Verifier{Resolver: f, MinRSABits: tc.minBits}, msg)
			if len(res) != 1 {
				t.Fatalf("got %d results", len(res))
			}
			r := res[0]
			if r.Result != tc.want || !strings.Contains(r.Reason, tc.reason) || r.KeyBits != tc.keyBits {
				t.Errorf("got %s %q bits=%d (%v), want %s %q bits=%d", r.Result, r.Reason, r.KeyBits, r.Err, tc.want, tc.reason, tc.keyBits)
			}
			if tc.errIs != nil && !errors.Is(r.Err, tc.errIs) {
				t.Errorf("Err %v is not %v", r.Err, tc.errIs)
			}
			if f.Queries("TXT", name) != len(chunkSizes) { // one per session
				t.Errorf("%d key lookups in %d sessions", f.Queries("TXT", name), len(chunkSizes))
			}
		})
	}
}

// TestModification: changes after signing must fail; unsigned additions
// must not (RFC 6376 §5.4: only listed fields are signed).
func TestModification(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	f.AddTXT("sel._domainkey.example.com", "p="+k.rsaP)
	f.AddTXT("ed._domainkey.example.com", "k=ed25519; p="+k.edP)
	for _, alg := range []struct {
		sel    string
		signer crypto.Signer
	}{{"sel", k.rsa}, {"ed", k.ed}} {
		for _, canon := range []msgauth.Canonicalization{msgauth.CanonicalizationSimple, msgauth.CanonicalizationRelaxed} {
			signed := sign(t, k.message, msgauth.SignOptions{Domain: "example.com", Selector: alg.sel, Signer: alg.signer,
				HeaderCanonicalization: canon, BodyCanonicalization: canon})
			cases := []struct {
				name   string
				edit   func([]byte) []byte
				want   string
				reason string
			}{
				{"unchanged", func(b []byte) []byte { return b }, Pass, ""},
				{"body-appended", func(b []byte) []byte { return append(b, "foo\r\n"...) }, Fail, "body hash mismatch"},
				{"body-changed", func(b []byte) []byte { return bytes.Replace(b, []byte("hungry"), []byte("angry!"), 1) }, Fail, "body hash mismatch"},
				{"subject-changed", func(b []byte) []byte { return bytes.Replace(b, []byte("dinner ready"), []byte("lunch ready"), 1) }, Fail, "signature mismatch"},
				{"from-added-below", func(b []byte) []byte {
					return bytes.Replace(b, []byte("\r\n\r\n"), []byte("\r\nFrom: evil@example.net\r\n\r\n"), 1)
				}, Fail, "signature mismatch"},
				{"unsigned-header-added", func(b []byte) []byte {
					return bytes.Replace(b, []byte("\r\n\r\n"), []byte("\r\nX-Foo: bar\r\n\r\n"), 1)
				}, Pass, ""},
				{"trailing-empty-lines", func(b []byte) []byte { return append(b, "\r\n\r\n"...) }, Pass, ""},
			}
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/%s/%s", alg.sel, canon, tc.name), func(t *testing.T) {
					t.Parallel()
					msg := tc.edit(append([]byte(nil), signed...))
					for _, own := range []bool{false, true} {
						res := driveAll(t, &Verifier{Resolver: f, forceOwn: own}, msg)
						if len(res) != 1 || res[0].Result != tc.want || res[0].Reason != tc.reason {
							t.Errorf("own=%v: got %+v, want %s %q", own, res, tc.want, tc.reason)
						}
					}
				})
			}
		}
	}
}

// TestHeaderB: header.b must be at least 8 characters and unique among
// the message's signatures (RFC 6008 §4).
func TestHeaderB(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	f.AddTXT("sel._domainkey.example.com", "p="+k.rsaP)
	signed := sign(t, k.message, msgauth.SignOptions{Domain: "example.com", Selector: "sel", Signer: k.rsa})
	sigField, rest, _ := bytes.Cut(signed, []byte("\r\n"))
	for bytes.HasPrefix(rest, []byte(" ")) {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		sigField = append(append(sigField, "\r\n"...), line...)
	}
	b := string(sigField[bytes.Index(sigField, []byte(" b="))+3:])
	b = stripFWS(b)
	// A forged twin whose b= agrees with the real one on 12 characters.
	twin := []byte(strings.Replace(string(sigField), b[12:14], flip(b[12:14]), 1))
	msg := append(append(append(twin, "\r\n"...), sigField...), "\r\n"+string(rest)...)
	res := driveAll(t, &Verifier{Resolver: f}, msg)
	if len(res) != 2 {
		t.Fatalf("got %d results", len(res))
	}
	if res[0].Result != Fail || res[1].Result != Pass {
		t.Errorf("got %v, want fail (twin), pass", tokens(res))
	}
	if res[0].B == res[1].B || len(res[1].B) != 13 || !strings.HasPrefix(b, res[1].B) {
		t.Errorf("header.b %q and %q: want distinct 13-character prefixes of %q", res[0].B, res[1].B, b[:16])
	}
	// Unrelated signatures keep the 8-character minimum.
	single := driveAll(t, &Verifier{Resolver: f}, signed)
	if single[0].B != b[:8] {
		t.Errorf("single header.b %q, want %q", single[0].B, b[:8])
	}
	// Identical b= values (Stalwart 003 repeats a signature) can only be
	// reported in full.
	same := append(append(append([]byte(nil), sigField...), "\r\n"...), signed...)
	dup := driveAll(t, &Verifier{Resolver: f}, same)
	if dup[0].B != b || dup[1].B != b || dup[0].Result != Pass || dup[1].Result != Pass {
		t.Errorf("duplicate signatures: got %+v", dup)
	}
}

// flip changes every base64 character of s to a different one.
func flip(s string) string {
	out := []byte(s)
	for i := range out {
		if out[i] == 'A' {
			out[i] = 'B'
		} else {
			out[i] = 'A'
		}
	}
	return string(out)
}

// TestTooManySignatures: only the first MaxSignatures are verified; the
// rest get "policy" and cost no DNS query (RFC 6376 §6.1).
func TestTooManySignatures(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	for _, tc := range []struct {
		max, sigs, verified int
	}{{0, 7, 5}, {2, 4, 2}, {3, 3, 3}} {
		t.Run(fmt.Sprintf("max%d-sigs%d", tc.max, tc.sigs), func(t *testing.T) {
			t.Parallel()
			f := resolver.NewFake()
			msg := k.message
			for i := tc.sigs - 1; i >= 0; i-- { // signature i ends up i-th from the top
				sel := fmt.Sprintf("s%d", i)
				f.AddTXT(sel+"._domainkey.example.com", "p="+k.rsaP)
				msg = sign(t, msg, msgauth.SignOptions{Domain: "example.com", Selector: sel, Signer: k.rsa})
			}
			res := driveAll(t, &Verifier{Resolver: f, MaxSignatures: tc.max}, msg)
			if len(res) != tc.sigs {
				t.Fatalf("got %d results, want %d", len(res), tc.sigs)
			}
			for i, r := range res {
				sel := fmt.Sprintf("s%d", i)
				if r.Selector != sel {
					t.Errorf("result %d has selector %q, want %q (order)", i, r.Selector, sel)
				}
				if i < tc.verified {
					if r.Result != Pass {
						t.Errorf("signature %d: %s (%v), want pass", i, r.Result, r.Err)
					}
					continue
				}
				if r.Result != Policy || !errors.Is(r.Err, ErrTooManySignatures) || !strings.Contains(r.Reason, "limit") {
					t.Errorf("signature %d: %+v, want policy over the limit", i, r)
				}
				if n := f.Queries("TXT", sel+"._domainkey.example.com"); n != 0 {
					t.Errorf("signature %d over the limit caused %d lookups", i, n)
				}
			}
		})
	}
}

// TestNoSignature: no goroutine, no pipe, nil results.
func TestNoSignature(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	s := (&Verifier{Resolver: resolver.NewFake()}).NewSession(context.Background())
	fields, body := splitMessage(t, k.message)
	for _, f := range fields {
		s.Header(f)
	}
	s.EndHeaders()
	if s.pw != nil || s.done != nil {
		t.Fatal("verifier started for a message without signature")
	}
	if err := s.Body(body); err != nil {
		t.Fatal(err)
	}
	if r := s.Close(); r != nil {
		t.Fatalf("got %v, want nil", r)
	}
	if err := s.Body(body); !errors.Is(err, ErrClosed) {
		t.Errorf("Body after Close: %v, want ErrClosed", err)
	}
}

// TestSessionMisuse: Body before EndHeaders, Close twice, Close without
// EndHeaders.
func TestSessionMisuse(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	f.AddTXT("sel._domainkey.example.com", "p="+k.rsaP)
	msg := sign(t, k.message, msgauth.SignOptions{Domain: "example.com", Selector: "sel", Signer: k.rsa})
	fields, body := splitMessage(t, msg)
	s := (&Verifier{Resolver: f}).NewSession(context.Background())
	for _, fl := range fields {
		s.Header(fl)
	}
	if err := s.Body(body); !errors.Is(err, ErrNotEnded) {
		t.Errorf("Body before EndHeaders: %v", err)
	}
	first := s.Close() // implies EndHeaders, empty body
	if len(first) != 1 || first[0].Result != Fail || first[0].Reason != "body hash mismatch" {
		t.Errorf("Close without body: %+v", first)
	}
	if again := s.Close(); len(again) != 1 || again[0] != first[0] {
		t.Errorf("second Close: %+v", again)
	}
}

// blockingResolver answers nothing until ctx is cancelled, like a DNS
// server that never replies.
type blockingResolver struct{ *resolver.Fake }

func (*blockingResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	<-ctx.Done()
	return nil, resolver.Timeout(name)
}

// TestAbortNoLeak: aborting mid-body, while key lookups hang and with one
// or several signatures (go-msgauth's sequential and parallel paths),
// leaves no goroutine behind. Not parallel: it counts goroutines.
func TestAbortNoLeak(t *testing.T) {
	k := loadKeys(t)
	msg := k.message
	for i := 0; i < 3; i++ {
		msg = sign(t, msg, msgauth.SignOptions{Domain: "example.com", Selector: fmt.Sprintf("s%d", i), Signer: k.rsa})
	}
	single := sign(t, k.message, msgauth.SignOptions{Domain: "example.com", Selector: "s", Signer: k.rsa})
	before := runtime.NumGoroutine()
	for round := 0; round < 10; round++ {
		for _, m := range [][]byte{msg, single} {
			fields, body := splitMessage(t, m)
			s := (&Verifier{Resolver: &blockingResolver{resolver.NewFake()}}).NewSession(context.Background())
			for _, f := range fields {
				s.Header(f)
			}
			s.EndHeaders()
			if s.done == nil {
				t.Fatal("no verifier goroutine started")
			}
			s.Abort()
			select {
			case <-s.done:
			default:
				t.Fatal("verifier goroutine still running after Abort")
			}
			if err := s.Body(body[:5]); !errors.Is(err, ErrClosed) {
				t.Errorf("Body after Abort: %v, want ErrClosed", err)
			}
			if r := s.Close(); r != nil {
				t.Errorf("Close after Abort: %v", r)
			}
		}
	}
	// Goroutines that already signalled (a cancelled lookup returning)
	// may need a moment to exit on a loaded machine: poll, bounded.
	after := runtime.NumGoroutine()
	for i := 0; i < 500 && after > before; i++ {
		time.Sleep(10 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	if after > before {
		t.Errorf("%d goroutines before, %d after 20 aborted sessions", before, after)
	}
}

// TestAbortMidBody aborts after part of the body went through the pipe.
func TestAbortMidBody(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	f.AddTXT("s0._domainkey.example.com", "p="+k.rsaP)
	f.AddTXT("s1._domainkey.example.com", "p="+k.rsaP)
	msg := sign(t, k.message, msgauth.SignOptions{Domain: "example.com", Selector: "s0", Signer: k.rsa})
	msg = sign(t, msg, msgauth.SignOptions{Domain: "example.com", Selector: "s1", Signer: k.rsa})
	fields, body := splitMessage(t, msg)
	s := (&Verifier{Resolver: f}).NewSession(context.Background())
	for _, fl := range fields {
		s.Header(fl)
	}
	s.EndHeaders()
	if err := s.Body(body[:10]); err != nil {
		t.Fatal(err)
	}
	s.Abort()
	select {
	case <-s.done:
	default:
		t.Fatal("verifier goroutine still running after Abort")
	}
}

// TestConcurrentSessions shares one Verifier among many sessions (run
// with -race).
func TestConcurrentSessions(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	f.AddTXT("sel._domainkey.example.com", "p="+k.rsaP)
	f.AddTXT("ed._domainkey.example.com", "k=ed25519; p="+k.edP)
	msg := sign(t, k.message, msgauth.SignOptions{Domain: "example.com", Selector: "sel", Signer: k.rsa})
	msg = sign(t, msg, msgauth.SignOptions{Domain: "example.com", Selector: "ed", Signer: k.ed})
	v := &Verifier{Resolver: f}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := drive(t, v, msg, 1+i*3)
			if got := strings.Join(tokens(res), ","); got != "pass,pass" {
				errs <- got
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent session got %s", e)
	}
}

// TestLFAcrossChunks: a message with bare LF line ends, cut so that chunk
// boundaries fall between every byte, verifies like its CRLF form; a CR
// at the end of one chunk followed by LF in the next is not doubled.
func TestLFAcrossChunks(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	f.AddTXT("sel._domainkey.example.com", "p="+k.rsaP)
	msg := sign(t, k.message, msgauth.SignOptions{Domain: "example.com", Selector: "sel", Signer: k.rsa})
	lf := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	for _, n := range []int{1, 2, 3, 5, 64} {
		if got := tokens(drive(t, &Verifier{Resolver: f}, lf, n)); len(got) != 1 || got[0] != Pass {
			t.Errorf("LF message, chunk %d: %v", n, got)
		}
		if got := tokens(drive(t, &Verifier{Resolver: f}, msg, n)); len(got) != 1 || got[0] != Pass {
			t.Errorf("CRLF message, chunk %d: %v", n, got)
		}
	}
}

// TestHeaderOverflow: a header section past maxHeaderBytes is not kept;
// its signatures are reported as policy without verification.
func TestHeaderOverflow(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	f.AddTXT("sel._domainkey.example.com", "p="+k.rsaP)
	msg := sign(t, k.message, msgauth.SignOptions{Domain: "example.com", Selector: "sel", Signer: k.rsa})
	fields, _ := splitMessage(t, msg)
	s := (&Verifier{Resolver: f}).NewSession(context.Background())
	filler := []byte("X-Filler: " + strings.Repeat("x", 1000) + "\r\n")
	for i := 0; i <= maxHeaderBytes/len(filler); i++ {
		s.Header(filler)
	}
	for _, fl := range fields {
		s.Header(fl)
	}
	if len(s.head) > maxHeaderBytes {
		t.Errorf("kept %d header bytes, limit %d", len(s.head), maxHeaderBytes)
	}
	s.EndHeaders()
	res := s.Close()
	if len(res) != 1 || res[0].Result != Policy || !errors.Is(res[0].Err, ErrHeaderTooLarge) {
		t.Errorf("got %+v", res)
	}
	if f.Queries("TXT", "sel._domainkey.example.com") != 0 {
		t.Error("key looked up for an unverified signature")
	}
}

// TestClockSkewPathAgrees holds the clock-skew verifier (used when x= is
// past by the process clock but not by Verifier.Now) to the same corpora
// as go-msgauth.
func TestClockSkewPathAgrees(t *testing.T) {
	t.Parallel()
	type msgCase struct {
		name string
		f    *resolver.Fake
		msg  []byte
	}
	var cases []msgCase
	for _, c := range []struct{ dir, msg string }{
		{"rfc8463", "signed-message.eml"}, {"rfc6376", "signed-message.eml"},
		{"go-msgauth-sign", "signed-rsa.eml"}, {"go-msgauth-sign", "signed-ed25519.eml"},
	} {
		f := resolver.NewFake()
		loadZone(t, f, "dkim-rfc-vectors/"+c.dir, "dns-records.txt")
		cases = append(cases, msgCase{c.dir + "/" + c.msg, f, readFile(t, "dkim-rfc-vectors", c.dir, c.msg)})
	}
	for _, file := range []string{"001.txt", "002.txt", "003.txt", "004.txt", "006.txt"} {
		raw := readFile(t, "dkim-stalwart-mail-auth", file)
		zone, msg, _ := bytes.Cut(raw, []byte("\n\n"))
		f := resolver.NewFake()
		for _, line := range strings.Split(string(zone), "\n") {
			n, v, _ := strings.Cut(line, " ")
			f.AddTXT(n, v)
		}
		cases = append(cases, msgCase{"stalwart/" + file, f, msg})
	}
	dk := resolver.NewFake()
	loadZone(t, dk, "dkim-dkimpy", "dns-records-from-test-code.txt")
	for _, m := range []string{"rfc6376.signed.msg", "ed25519test2.msg", "test2.message"} {
		cases = append(cases, msgCase{"dkimpy/" + m, dk, readFile(t, "dkim-dkimpy", "data", m)})
	}
	md := mailDKIMResolver(t)
	for _, m := range []string{"goodkey_ed25519.txt", "badkey2_ed25519.txt", "badkey3_ed25519.txt"} {
		cases = append(cases, msgCase{"mail-dkim/" + m, md, readFile(t, "dkim-perl-mail-dkim", "corpus", m)})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			lib := driveAll(t, &Verifier{Resolver: c.f}, c.msg)
			own := driveAll(t, &Verifier{Resolver: c.f, forceOwn: true}, c.msg)
			if len(lib) != len(own) || len(lib) == 0 {
				t.Fatalf("go-msgauth %v, clock-skew path %v", tokens(lib), tokens(own))
			}
			for i := range lib {
				if lib[i].Result != own[i].Result || lib[i].Reason != own[i].Reason || lib[i].KeyBits != own[i].KeyBits {
					t.Errorf("signature %d: go-msgauth %s %q, clock-skew path %s %q (%v)", i, lib[i].Result, lib[i].Reason, own[i].Result, own[i].Reason, own[i].Err)
				}
			}
		})
	}
}

// BenchmarkVerifyStream: a 1 MiB body with one RSA-2048 signature, fed in
// 64 KiB chunks (Postfix sends at most 64 KiB per milter body packet).
func BenchmarkVerifyStream(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	f := resolver.NewFake()
	f.AddTXT("bench._domainkey.example.com", "p="+base64.StdEncoding.EncodeToString(der))
	var body bytes.Buffer
	line := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 1) + "\r\n"
	for body.Len() < 1<<20 {
		body.WriteString(line)
	}
	raw := append([]byte("From: a@example.com\r\nTo: b@example.org\r\nSubject: bench\r\n\r\n"), body.Bytes()...)
	msg := sign(b, raw, msgauth.SignOptions{Domain: "example.com", Selector: "bench", Signer: key,
		HeaderCanonicalization: msgauth.CanonicalizationRelaxed, BodyCanonicalization: msgauth.CanonicalizationRelaxed})
	fields, bd := splitMessage(b, msg)
	v := &Verifier{Resolver: f}
	b.SetBytes(int64(len(bd)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := v.NewSession(context.Background())
		for _, fl := range fields {
			s.Header(fl)
		}
		s.EndHeaders()
		for rest := bd; len(rest) > 0; {
			n := min(64<<10, len(rest))
			if err := s.Body(rest[:n]); err != nil {
				b.Fatal(err)
			}
			rest = rest[n:]
		}
		if r := s.Close(); len(r) != 1 || r[0].Result != Pass {
			b.Fatalf("got %+v", r)
		}
	}
}

// TestHeaderShapes: odd field shapes are stored so that go-msgauth splits
// the header section exactly as Header was called, keeping the pairing of
// signatures and verifications.
func TestHeaderShapes(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	f.AddTXT("sel._domainkey.example.com", "p="+k.rsaP)
	signed := sign(t, k.message, msgauth.SignOptions{Domain: "example.com", Selector: "sel", Signer: k.rsa})
	fields, body := splitMessage(t, signed)
	cases := []struct {
		name  string
		extra [][]byte // fed before the real fields
		want  string
	}{
		{"plain", nil, "pass"},
		{"empty-fields-ignored", [][]byte{[]byte("\r\n"), []byte("\n"), {}}, "pass"},
		{"no-colon-signature", [][]byte{[]byte("DKIM-Signature\r\n")}, "permerror,pass"},
		{"embedded-lines", [][]byte{[]byte("X-A: 1\r\nDKIM-Signature: v=1; d=evil.example\r\n\r\nFrom: x\r\n")}, "pass"},
		{"leading-wsp-continues", [][]byte{[]byte("X-A: 1\r\n"), []byte(" DKIM-Signature: v=1\r\n")}, "pass"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := (&Verifier{Resolver: f}).NewSession(context.Background())
			for _, e := range tc.extra {
				s.Header(e)
			}
			for _, fl := range fields {
				s.Header(fl)
			}
			s.EndHeaders()
			if err := s.Body(body); err != nil {
				t.Fatal(err)
			}
			res := s.Close()
			if got := strings.Join(tokens(res), ","); got != tc.want {
				t.Errorf("got %s, want %s (%+v)", got, tc.want, res)
			}
		})
	}
}
