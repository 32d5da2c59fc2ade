package policy

import (
	"context"
	"crypto/ed25519"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/authmilter/authmilter/keystore"
	"github.com/authmilter/authmilter/resolver"
)

// tableKeys is a signing table for tests: every address at example.org is
// signed with one Ed25519 key.
type tableKeys struct{ key *keystore.Key }

func (t tableKeys) Lookup(from string) ([]*keystore.Key, string) {
	if strings.HasSuffix(from, "@example.org") {
		return []*keystore.Key{t.key}, "*@example.org"
	}
	if strings.HasSuffix(from, "@broken.example") {
		return nil, "*@broken.example"
	}
	return nil, ""
}

func signingEngine(t *testing.T, z *resolver.Fake, key ed25519.PrivateKey, mod func(*Options)) *Engine {
	t.Helper()
	opts := Options{AuthservID: "mx.test",
		InternalNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		DMARC:            DMARCOptions{Enforce: true, TrustedForwarders: []netip.Prefix{netip.MustParsePrefix("10.7.0.0/16")}},
		Signing: SigningOptions{
			Keys:        tableKeys{&keystore.Key{Name: "ex", Domain: "example.org", Selector: "sel", Signer: key, Algorithm: "ed25519-sha256", Bits: 256}},
			DaemonNames: []string{"ORIGINATING"},
		}}
	if mod != nil {
		mod(&opts)
	}
	e, err := New(opts, z)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSignOrVerify is the sign/verify decision: only our own clients get
// our signature, whatever the From field says.
func TestSignOrVerify(t *testing.T) {
	t.Parallel()
	z, key := dmarcZone(t)
	outside := net.ParseIP("198.51.100.7")
	cases := []struct {
		name   string
		env    Envelope
		from   string
		mod    func(*Options)
		signed bool
		action Action
	}{
		{"authenticated user", Envelope{ClientIP: outside, AuthUser: "alice", MailFrom: "a@example.org"}, "a@example.org", nil, true, Accept},
		{"internal network", Envelope{ClientIP: net.ParseIP("10.1.2.3"), MailFrom: "a@example.org"}, "a@example.org", nil, true, Accept},
		{"submission service by daemon name", Envelope{ClientIP: outside, DaemonName: "ORIGINATING", MailFrom: "a@example.org"}, "a@example.org", nil, true, Accept},
		{"outside client forging our From is verified, not signed", Envelope{ClientIP: outside, Helo: "evil", MailFrom: "a@example.org"}, "a@example.org", nil, false, Reject},
		{"trusted forwarder inside internal networks is not signed", Envelope{ClientIP: net.ParseIP("10.7.1.1"), MailFrom: "a@example.org"}, "a@example.org", nil, false, Accept},
		{"no signing rule: delivered unsigned", Envelope{ClientIP: net.ParseIP("10.1.2.3"), MailFrom: "root@host.example"}, "root@host.example", nil, false, Accept},
		{"rule without a usable key: tempfail", Envelope{ClientIP: net.ParseIP("10.1.2.3"), MailFrom: "a@broken.example"}, "a@broken.example", nil, false, Tempfail},
		{"rule without a usable key: accepted when configured", Envelope{ClientIP: net.ParseIP("10.1.2.3"), MailFrom: "a@broken.example"}, "a@broken.example",
			func(o *Options) { o.Signing.AcceptKeyMissing = true }, false, Accept},
		{"signing disabled: internal mail is verified", Envelope{ClientIP: net.ParseIP("10.1.2.3"), MailFrom: "a@example.org"}, "a@example.org",
			func(o *Options) { o.Signing.Keys = nil }, false, Accept},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := signingEngine(t, z, key, c.mod)
			v := feed(t, e.Begin(context.Background(), c.env), message("From: "+c.from, "To: b@other.example"))
			if v.Action != c.action {
				t.Errorf("action %s, want %s (%v)", v.Action, c.action, v.Reasons)
			}
			var sigs, ars int
			for _, f := range v.Add {
				switch f.Name {
				case "DKIM-Signature":
					sigs++
				case "Authentication-Results":
					ars++
				}
			}
			if (sigs == 1) != c.signed || (c.signed && ars != 0) {
				t.Errorf("%d signatures, %d Authentication-Results; want signed=%v", sigs, ars, c.signed)
			}
		})
	}
}

// What we sign, our own verifier passes, and DMARC aligns on it.
func TestSignedMessageVerifies(t *testing.T) {
	t.Parallel()
	z, key := dmarcZone(t)
	e := signingEngine(t, z, key, nil)
	raw := message("From: Alice <a@example.org>", "To: b@other.example", "Subject: a folded\r\n subject line")
	v := feed(t, e.Begin(context.Background(), Envelope{ClientIP: net.ParseIP("10.1.2.3"), AuthUser: "alice", MailFrom: "a@example.org"}), raw)
	if len(v.Add) != 1 || v.Add[0].Name != "DKIM-Signature" {
		t.Fatalf("fields %+v (%v)", v.Add, v.Reasons)
	}
	if !strings.Contains(v.Add[0].Value, "d=example.org") || !strings.Contains(v.Add[0].Value, "s=sel") {
		t.Errorf("signature %q", v.Add[0].Value)
	}
	signed := "DKIM-Signature: " + v.Add[0].Value + "\r\n" + raw
	in := signingEngine(t, z, key, nil)
	got := feed(t, in.Begin(context.Background(), Envelope{ClientIP: net.ParseIP("198.51.100.7"), Helo: "x", MailFrom: "bounce@other.example"}), signed)
	d := dmarcEntry(t, got)
	if len(got.DKIM) != 1 || got.DKIM[0].Result != "pass" || d.Value != "pass" {
		t.Errorf("dkim %+v, dmarc %+v", got.DKIM, d)
	}
}
