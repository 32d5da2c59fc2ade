package interop

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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authmilter/authmilter/e2e"
	"github.com/authmilter/authmilter/resolver"
	"github.com/authmilter/authmilter/resolver/dnstest"
)

// Names the zone and the configurations use. The domains are reserved
// example names (RFC 2606): no real DNS answers for them, so a peer that
// found a key found it at the test's server.
const (
	authservID = "mx.test"
	// ours is the domain authmilter signs for, with the keys that
	// `authmilter keygen` made (selectors selRSA, selEd).
	ours   = "ours.example"
	selRSA = "rsa2026"
	selEd  = "ed2026"
	// dkimpyDom and opendkimDom are the peers' signing domains, each with
	// an RSA key (selector "rsa") and an Ed25519 key (selector "ed").
	dkimpyDom   = "dkimpy.example"
	opendkimDom = "opendkim.example"
	// The client that `authmilter verify` judges: outside
	// internal_networks, so its mail is inbound and verified.
	clientIP   = "192.0.2.10"
	clientName = "mail.sender.example"
)

// peerKey is a key a peer signs with, in the file formats the peers read.
type peerKey struct {
	domain, selector, alg string
	// pemFile is PEM: PKCS #1 for RSA (what opendkim-genkey writes),
	// PKCS #8 for Ed25519. seedFile is dkimpy's Ed25519 format (base64 of
	// the 32-byte seed), "" for RSA.
	pemFile, seedFile string
}

// suite is what the package's tests share; the first test that needs it
// starts it.
type suite struct {
	once     sync.Once
	skip     string
	setupErr error

	work string // temporary directory
	bin  string // the authmilter binary
	zone *resolver.Fake
	dns  *dnstest.Server
	// keygenOut maps selRSA and selEd to `authmilter keygen`'s standard
	// output (the record value); keyDir holds the files it wrote.
	keygenOut map[string]string
	keyDir    string
	// signCfg signs ours with relaxed/relaxed (the default), simpleCfg
	// with simple/simple; both verify inbound mail like the daemon.
	signCfg, simpleCfg string
	// peers are the peers' keys, by "dkimpy/rsa", "opendkim/ed", ...
	peers map[string]peerKey
}

var env suite

func TestMain(m *testing.M) {
	code := m.Run()
	if err := env.teardown(); err != nil {
		fmt.Fprintf(os.Stderr, "interop: teardown: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// need skips or fails t unless the suite is up: outside CI a missing peer
// skips, under CI=true it fails (CI must never go green by skipping).
func (s *suite) need(t *testing.T) {
	t.Helper()
	s.once.Do(func() {
		if err := CheckPeers(); err != nil {
			if e2e.InCI() {
				s.setupErr = fmt.Errorf("%w (CI is set, so this is a failure, not a skip)", err)
			} else {
				s.skip = err.Error() + "; run scripts/test as root, or set CI=true to make this a failure"
			}
			return
		}
		s.setupErr = s.start()
	})
	switch {
	case s.skip != "":
		t.Skip("interop: " + s.skip)
	case s.setupErr != nil:
		t.Fatalf("interop setup failed: %v", s.setupErr)
	}
}

func (s *suite) start() error {
	root, err := e2e.RepoRoot()
	if err != nil {
		return err
	}
	if s.work, err = os.MkdirTemp("", "authmilter-interop-"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if s.bin, err = e2e.BuildAuthmilter(ctx, root, s.work); err != nil {
		return err
	}
	s.zone = resolver.NewFake()
	if s.dns, err = dnstest.Serve(s.zone); err != nil {
		return err
	}

	// Our keys, made by `authmilter keygen` as an administrator would,
	// published from its standard output (TestKeygenOutput checks that
	// the zone-file line says the same).
	s.keyDir = filepath.Join(s.work, "keys")
	if err := os.Mkdir(s.keyDir, 0o700); err != nil {
		return err
	}
	s.keygenOut = map[string]string{}
	for _, k := range []struct{ sel, typ string }{{selRSA, "rsa"}, {selEd, "ed25519"}} {
		res, err := e2e.RunCommand(ctx, s.bin, nil, "keygen", "-d", ours, "-s", k.sel, "-t", k.typ, "-o", s.keyDir)
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("keygen -t %s: exit %d: %s", k.typ, res.ExitCode, res.Stderr)
		}
		value := strings.TrimSpace(res.Stdout)
		s.keygenOut[k.sel] = value
		s.zone.AddTXT(k.sel+"._domainkey."+ours, value)
	}

	base := e2e.DaemonConfig{
		AuthservID:  authservID,
		Nameservers: []string{s.dns.Addr()},
		DNSTimeout:  "2s",
		Signing: e2e.SigningSettings{
			Keys: []e2e.SigningKey{
				{Name: "rsa", Domain: ours, Selector: selRSA, PrivateKey: filepath.Join(s.keyDir, selRSA+".private")},
				{Name: "ed", Domain: ours, Selector: selEd, PrivateKey: filepath.Join(s.keyDir, selEd+".private")},
			},
			// The local part picks the key; anyone else of ours gets
			// both signatures (RFC 8463 §4: sign with both while
			// verifiers without Ed25519 remain).
			Rules: []e2e.SigningRule{
				{From: "rsa@" + ours, Keys: []string{"rsa"}},
				{From: "ed@" + ours, Keys: []string{"ed"}},
				{From: "*@" + ours, Keys: []string{"rsa", "ed"}},
			},
		},
	}
	if s.signCfg, err = e2e.WriteConfig(s.work, "sign.toml", base); err != nil {
		return err
	}
	simple := base
	simple.Signing.Canonicalization = "simple/simple"
	if s.simpleCfg, err = e2e.WriteConfig(s.work, "simple.toml", simple); err != nil {
		return err
	}

	s.peers = map[string]peerKey{}
	for _, dom := range []string{dkimpyDom, opendkimDom} {
		peer := strings.TrimSuffix(dom, ".example")
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return err
		}
		_, ek, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		for _, k := range []struct {
			sel, alg string
			key      crypto.Signer
		}{{"rsa", "rsa-sha256", rk}, {"ed", "ed25519-sha256", ek}} {
			pk := peerKey{domain: dom, selector: k.sel, alg: k.alg}
			var block *pem.Block
			switch key := k.key.(type) {
			case *rsa.PrivateKey:
				block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
			case ed25519.PrivateKey:
				der, err := x509.MarshalPKCS8PrivateKey(key)
				if err != nil {
					return err
				}
				block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
				pk.seedFile = filepath.Join(s.keyDir, peer+"-"+k.sel+".seed")
				if err := os.WriteFile(pk.seedFile, []byte(base64.StdEncoding.EncodeToString(key.Seed())+"\n"), 0o600); err != nil {
					return err
				}
			}
			pk.pemFile = filepath.Join(s.keyDir, peer+"-"+k.sel+".pem")
			if err := os.WriteFile(pk.pemFile, pem.EncodeToMemory(block), 0o600); err != nil {
				return err
			}
			rec, err := keyRecord(k.key.Public())
			if err != nil {
				return err
			}
			s.zone.AddTXT(k.sel+"._domainkey."+dom, rec)
			s.peers[peer+"/"+k.sel] = pk
		}
	}
	return nil
}

func (s *suite) teardown() error {
	var errs []error
	if s.dns != nil {
		errs = append(errs, s.dns.Close())
	}
	if s.work != "" {
		errs = append(errs, os.RemoveAll(s.work))
	}
	return errors.Join(errs...)
}

// keyRecord is the DKIM key record (RFC 6376 §3.6.1) for pub: p= is the
// SubjectPublicKeyInfo for RSA and the raw 32-byte key for Ed25519 (RFC
// 8463 §4.2).
func keyRecord(pub crypto.PublicKey) (string, error) {
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	}
	return "", fmt.Errorf("interop: unsupported key type %T", pub)
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// message builds a test message with CRLF line ends. messy adds what
// canonicalization must cope with (RFC 6376 §3.4): a folded field, a field
// name in odd case, runs of white space and tabs, trailing white space,
// a long line and empty lines at the end of the body.
func message(from, subject string, messy bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Sender <%s>\r\n", from)
	b.WriteString("To: Recipient <rcpt@rcpt.example>\r\n")
	if messy {
		fmt.Fprintf(&b, "Subject: %s,\r\n\tfolded  onto\t a second line \r\n", subject)
		b.WriteString("X-Odd-CASE:    value \t with   spaces\r\n")
	} else {
		fmt.Fprintf(&b, "Subject: %s\r\n", subject)
	}
	b.WriteString("Date: Tue, 01 Dec 2026 01:00:00 +0000\r\n")
	fmt.Fprintf(&b, "Message-ID: <%d@%s>\r\n", time.Now().UnixNano(), strings.SplitN(from, "@", 2)[1])
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	b.WriteString("Hello,\r\n\r\nthis is a test message.\r\n")
	if messy {
		b.WriteString("Trailing white space  \t\r\n  Leading white space and\ttabs\r\n")
		b.WriteString(strings.Repeat("long line ", 90) + "\r\n")
		b.WriteString("\r\n\r\n\r\n")
	}
	return b.Bytes()
}

// tamper changes one body character of a signed message, which must break
// every signature over it (the body hash, RFC 6376 §3.7).
func tamper(t *testing.T, msg []byte) []byte {
	t.Helper()
	out := bytes.Replace(msg, []byte("this is a test message."), []byte("this is a test massage."), 1)
	if bytes.Equal(out, msg) {
		t.Fatal("tamper: the body text to change is not in the message")
	}
	return out
}

// signOurs runs `authmilter sign -c cfg` on msg as a client of
// internal_networks (the default 127.0.0.1) and returns its output.
func signOurs(t *testing.T, cfg string, msg []byte, extra ...string) []byte {
	t.Helper()
	res, err := e2e.RunCommand(ctxFor(t), env.bin, msg, append([]string{"sign", "-c", cfg}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("authmilter sign: exit %d\nstderr:\n%s", res.ExitCode, res.Stderr)
	}
	return []byte(res.Stdout)
}

// sigField is one DKIM-Signature field of a message, unfolded, with its
// tags.
type sigField struct {
	value string
	tags  map[string]string
}

// signatures returns msg's DKIM-Signature fields in header order.
func signatures(t *testing.T, msg []byte) []sigField {
	t.Helper()
	hdr := msg
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		hdr = msg[:i]
	} else if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		hdr = msg[:i]
	}
	unfolded := strings.NewReplacer("\r\n ", " ", "\r\n\t", " ", "\n ", " ", "\n\t", " ").Replace(string(hdr))
	var out []sigField
	for _, line := range strings.Split(unfolded, "\n") {
		name, value, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if !ok || !strings.EqualFold(name, "DKIM-Signature") {
			continue
		}
		f := sigField{value: value, tags: map[string]string{}}
		for _, tag := range strings.Split(value, ";") {
			k, v, ok := strings.Cut(tag, "=")
			if ok {
				f.tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
			}
		}
		out = append(out, f)
	}
	return out
}

// verifyOurs runs `authmilter verify` with the signing configuration on
// msg, received from an outside client (so verified, not signed), and
// returns its dkim= results.
func verifyOurs(t *testing.T, msg []byte, mailFrom string) ([]e2e.MethodResult, string) {
	t.Helper()
	res, err := e2e.RunVerify(ctxFor(t), env.bin, env.signCfg, clientIP, clientName, mailFrom, msg)
	if err != nil {
		t.Fatal(err)
	}
	show := fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", res.ExitCode, res.Stdout, res.Stderr)
	if res.ExitCode != 0 {
		t.Fatalf("authmilter verify failed: %s", show)
	}
	fields := e2e.OutputFields(res.Stdout)
	if len(fields["dkim-signature"]) > 0 {
		t.Errorf("authmilter verify signed mail from an outside client: %s", show)
	}
	ars := fields["authentication-results"]
	if len(ars) != 1 {
		t.Fatalf("want one Authentication-Results, got %d: %s", len(ars), show)
	}
	ar, err := e2e.ParseAuthResults(ars[0])
	if err != nil {
		t.Fatalf("%v: %s", err, show)
	}
	if !strings.EqualFold(ar.AuthservID, authservID) {
		t.Errorf("authserv-id %q, want %q", ar.AuthservID, authservID)
	}
	return ar.ByMethod("dkim"), show
}
