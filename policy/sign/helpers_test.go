package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authmilter/authmilter/keystore"
	"github.com/authmilter/authmilter/policy/dkim"
	"github.com/authmilter/authmilter/resolver"
)

// chunkSizes drive every body: one byte (every CRLF split), an odd small
// size, and a milter-sized chunk.
var chunkSizes = []int{1, 7, 4096}

// canonPairs are the four c= combinations (RFC 6376 §3.4).
var canonPairs = [][2]string{{Simple, Simple}, {Simple, Relaxed}, {Relaxed, Simple}, {Relaxed, Relaxed}}

type testKeys struct {
	rsa *rsa.PrivateKey
	ed  ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keys     testKeys
	keysErr  error
)

// loadKeys generates one RSA-2048 and one Ed25519 key per test binary.
func loadKeys(t testing.TB) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		r, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			keysErr = err
			return
		}
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		keys, keysErr = testKeys{rsa: r, ed: ed}, err
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return &keys
}

func rsaKey(k *testKeys) *keystore.Key {
	return &keystore.Key{Name: "rsa", Domain: "example.com", Selector: "rsa2048", Path: "/dev/null",
		Signer: k.rsa, Algorithm: keystore.RSASHA256, Bits: 2048}
}

func edKey(k *testKeys) *keystore.Key {
	return &keystore.Key{Name: "ed", Domain: "example.com", Selector: "ed", Path: "/dev/null",
		Signer: k.ed, Algorithm: keystore.Ed25519SHA256, Bits: 256}
}

// publish adds the public key record of each key to f (RFC 6376 §3.6.1,
// RFC 8463 §4).
func publish(t testing.TB, f *resolver.Fake, ks ...*keystore.Key) {
	t.Helper()
	for _, k := range ks {
		name := k.Selector + "._domainkey." + k.Domain
		switch pub := k.Signer.Public().(type) {
		case *rsa.PublicKey:
			der, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			f.AddTXT(name, "v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(der))
		case ed25519.PublicKey:
			f.AddTXT(name, "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
		default:
			t.Fatalf("unexpected key type %T", pub)
		}
	}
}

// splitMessage splits a raw message into header fields (each with its own
// line ends, folding kept) and the body, accepting CRLF or bare LF.
func splitMessage(t testing.TB, msg []byte) (fields [][]byte, body []byte) {
	t.Helper()
	rest := msg
	for len(rest) > 0 {
		end := bytes.IndexByte(rest, '\n')
		if end < 0 {
			t.Fatalf("header section not terminated")
		}
		line := rest[:end+1]
		if string(line) == "\r\n" || string(line) == "\n" {
			return fields, rest[end+1:]
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] = append(fields[len(fields)-1], line...)
		} else {
			fields = append(fields, append([]byte(nil), line...))
		}
		rest = rest[end+1:]
	}
	return fields, nil
}

// signMessage runs msg through a Session, the body in chunks of n.
func signMessage(t testing.TB, msg []byte, n int, o Options, ks ...*keystore.Key) ([]Signature, error) {
	t.Helper()
	fields, body := splitMessage(t, msg)
	s := NewSession(ks, o)
	for _, f := range fields {
		s.Header(f)
	}
	if err := s.EndHeaders(); err != nil {
		s.Abort()
		return nil, err
	}
	for len(body) > 0 {
		c := min(n, len(body))
		if err := s.Body(body[:c]); err != nil {
			s.Abort()
			return nil, err
		}
		body = body[c:]
	}
	return s.Close()
}

// mustSign is signMessage that fails the test on error and checks one
// signature per key.
func mustSign(t testing.TB, msg []byte, n int, o Options, ks ...*keystore.Key) []Signature {
	t.Helper()
	sigs, err := signMessage(t, msg, n, o, ks...)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	if len(sigs) != len(ks) {
		t.Fatalf("%d signatures for %d keys", len(sigs), len(ks))
	}
	return sigs
}

// prepend returns msg with the signatures' fields in front, as the milter
// inserts them.
func prepend(msg []byte, sigs []Signature) []byte {
	var b []byte
	for _, s := range sigs {
		b = append(b, s.Field...)
	}
	return append(b, msg...)
}

// verify runs msg through our verifier (policy/dkim) with the body in
// chunks of n and the clock at now (zero: time.Now).
func verify(t testing.TB, f *resolver.Fake, msg []byte, n int, now time.Time) []dkim.Result {
	t.Helper()
	v := &dkim.Verifier{Resolver: f}
	if !now.IsZero() {
		v.Now = func() time.Time { return now }
	}
	fields, body := splitMessage(t, msg)
	s := v.NewSession(context.Background())
	for _, fl := range fields {
		s.Header(fl)
	}
	s.EndHeaders()
	for len(body) > 0 {
		c := min(n, len(body))
		if err := s.Body(body[:c]); err != nil {
			t.Fatalf("verify Body: %v", err)
		}
		body = body[c:]
	}
	return s.Close()
}

// tag returns the value of tag in a DKIM-Signature field, whitespace
// removed.
func tag(t testing.TB, field, name string) (string, bool) {
	t.Helper()
	_, value, ok := strings.Cut(field, ":")
	if !ok {
		t.Fatalf("not a field: %q", field)
	}
	for _, p := range strings.Split(value, ";") {
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.TrimSpace(k) == name {
			return strings.Join(strings.Fields(v), ""), true
		}
	}
	return "", false
}

var errSignerBroken = errors.New("test: signer broken")

// failingSigner is a crypto.Signer whose Sign fails, for ErrSign.
type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errSignerBroken
}
