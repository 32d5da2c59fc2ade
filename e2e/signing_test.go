package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authmilter/authmilter/resolver"
)

// The signing daemon's domain and selectors. domSign's SPF record
// authorizes only clientIP and its DMARC policy is reject, so at the next
// hop (a stranger's address) its mail passes DMARC through an aligned
// DKIM signature or not at all.
const (
	domSign     = "sign.example"
	signSelRSA  = "rsa1"
	signSelEd   = "ed1"
	signKeyRSA  = "sign-rsa"
	signKeyEd   = "sign-ed"
	signSubject = "signing through postfix"
)

// addSigningZone makes the signing daemon's keys and publishes them (RFC
// 6376 §3.6.2.1), with domSign's SPF and DMARC records.
func addSigningZone(z *resolver.Fake, k *zoneKeys) error {
	var err error
	if k.signRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return err
	}
	if _, k.signEd, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return err
	}
	rsaRec, err := dkimKeyRecord(k.signRSA)
	if err != nil {
		return err
	}
	edRec, err := dkimKeyRecord(k.signEd)
	if err != nil {
		return err
	}
	z.AddTXT(signSelRSA+"._domainkey."+domSign, rsaRec)
	z.AddTXT(signSelEd+"._domainkey."+domSign, edRec)
	z.AddTXT(domSign, "v=spf1 ip4:"+clientIP+" -all")
	z.AddTXT("_dmarc."+domSign, "v=DMARC1; p=reject")
	z.AddA(domSign, "192.0.2.200")
	return nil
}

// writeSigningKeys writes the signing keys into dir as an administrator
// would (PKCS #8 PEM, mode 0600, which authmilter requires) and returns the
// [signing] section that signs all of domSign's mail with both (RFC 8463
// §4: RSA for verifiers without Ed25519).
func writeSigningKeys(dir string, k *zoneKeys) (SigningSettings, error) {
	keyDir := filepath.Join(dir, "dkim")
	if err := os.Mkdir(keyDir, 0o700); err != nil {
		return SigningSettings{}, err
	}
	s := SigningSettings{
		Rules: []SigningRule{{From: "*@" + domSign, Keys: []string{signKeyRSA, signKeyEd}}},
	}
	for _, key := range []struct {
		name, sel string
		priv      any
	}{{signKeyRSA, signSelRSA, k.signRSA}, {signKeyEd, signSelEd, k.signEd}} {
		der, err := x509.MarshalPKCS8PrivateKey(key.priv)
		if err != nil {
			return SigningSettings{}, err
		}
		p := filepath.Join(keyDir, key.sel+".private")
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return SigningSettings{}, err
		}
		s.Keys = append(s.Keys, SigningKey{Name: key.name, Domain: domSign, Selector: key.sel, PrivateKey: p})
	}
	return s, nil
}

// dkimSigs returns the tags of each DKIM-Signature field of h, in header
// order.
func dkimSigs(h mail.Header) []map[string]string {
	var out []map[string]string
	for _, v := range h["Dkim-Signature"] {
		tags := map[string]string{}
		for _, tag := range strings.Split(v, ";") {
			if k, val, ok := strings.Cut(tag, "="); ok {
				tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(val), "")
			}
		}
		out = append(out, tags)
	}
	return out
}

// TestSigningThroughPostfix: mail from our own users leaves signed with
// both keys and without our Authentication-Results — through the
// submission service (ORIGINATING), from a client of internal_networks, and
// from an SMTP-authenticated client (XCLIENT LOGIN, which Postfix reports
// as {auth_authen}). The signed message, sent on to the verifying daemon as
// the next hop from an address SPF does not authorize, gets dkim=pass for
// both signatures and dmarc=pass through them (domSign's policy is
// reject). A stranger's mail with a From of our domain, through the same
// daemon, is verified, not signed.
func TestSigningThroughPostfix(t *testing.T) {
	env.need(t, true)
	t.Parallel()
	for _, tc := range []struct {
		name     string
		listener string
		client   string
		login    string
		signed   bool
	}{
		{"submission ORIGINATING", lnSignSubmission, clientIP, "", true},
		{"internal network", lnSignMTA, internalIP, "", true},
		{"authenticated", lnSignMTA, clientIP, "alice", true},
		{"outside client", lnSignMTA, clientIP, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcpt := rcptFor(t)
			env.dumpOnFailure(t, rcpt)
			from := "alice@" + domSign
			d, h := delivered(t, SwaksMessage{
				Server: env.postfix.Addr(tc.listener), ClientAddr: tc.client, ClientName: clientName,
				Helo: clientName, Login: tc.login, From: from, To: rcpt,
				// A field forged with our authserv-id must go from
				// outbound mail too (RFC 8601 §5): our own MDA would
				// trust it.
				Data: testMessage(from, rcpt, signSubject, "Signed on the way out.\n",
					"Authentication-Results: "+authservID+"; dkim=pass header.d=forgedmark.example"),
			})
			if bytes.Contains(d.Data, []byte("forgedmark")) {
				t.Errorf("a forged Authentication-Results survived:\n%s", d.Data)
			}
			sigs := dkimSigs(h)
			var ours []*AuthResults
			for _, v := range h["Authentication-Results"] {
				if ar, err := ParseAuthResults(v); err == nil && strings.EqualFold(ar.AuthservID, authservID) {
					ours = append(ours, ar)
				}
			}
			if !tc.signed {
				if len(sigs) != 0 {
					t.Fatalf("an outside client's mail was signed: %q", h["Dkim-Signature"])
				}
				ar := ourAR(t, h)
				if dk := ar.ByMethod("dkim"); len(dk) != 1 || dk[0].Result != "none" {
					t.Errorf("want dkim=none for the unsigned message, got %+v", dk)
				}
				return
			}
			if len(ours) != 0 {
				t.Errorf("outbound mail got our Authentication-Results: %q", h["Authentication-Results"])
			}
			if len(h["Received-Spf"]) != 0 {
				t.Errorf("outbound mail got Received-SPF: %q", h["Received-Spf"])
			}
			if len(sigs) != 2 {
				t.Fatalf("want two DKIM-Signature fields, got %d: %q", len(sigs), h["Dkim-Signature"])
			}
			for i, want := range []struct{ s, a string }{{signSelRSA, "rsa-sha256"}, {signSelEd, "ed25519-sha256"}} {
				if sigs[i]["d"] != domSign || sigs[i]["s"] != want.s || sigs[i]["a"] != want.a {
					t.Errorf("signature %d: d=%s s=%s a=%s, want d=%s s=%s a=%s", i, sigs[i]["d"], sigs[i]["s"], sigs[i]["a"], domSign, want.s, want.a)
				}
			}

			// The next hop: the verifying daemon, reached from an
			// address domSign's SPF does not list.
			next := "next." + rcpt
			_, h2 := delivered(t, SwaksMessage{
				Server: env.postfix.Addr(lnMTA), ClientAddr: strangerIP, ClientName: clientName,
				Helo: clientName, From: from, To: next, Data: d.Data,
			})
			ar := ourAR(t, h2)
			dk := ar.ByMethod("dkim")
			if len(dk) != 2 {
				t.Fatalf("next hop: want two dkim results, got %+v", ar.Results)
			}
			for _, r := range dk {
				if r.Result != "pass" || r.Props["header.d"] != domSign {
					t.Errorf("next hop: dkim=%s header.d=%s header.s=%s, want pass for %s", r.Result, r.Props["header.d"], r.Props["header.s"], domSign)
				}
			}
			if r := spfMailFrom(t, ar); r.Result != "fail" {
				t.Errorf("next hop: spf=%s, want fail (the stranger is not in %s's SPF record)", r.Result, domSign)
			}
			if dm := ar.ByMethod("dmarc"); len(dm) != 1 || dm[0].Result != "pass" {
				t.Errorf("next hop: want dmarc=pass through the aligned signatures, got %+v", dm)
			}
		})
	}
}

// TestSigningCanonicalization: a signed header field (Subject) whose
// white space the milter protocol could lose — a tab or several spaces
// after the colon, none at all, a folded value, trailing white space —
// signed through Postfix by both signing daemons: relaxed/relaxed (the
// default) and simple/simple (RFC 6376 §3.4.1: the field exactly as sent).
// The next hop must verify every signature.
func TestSigningCanonicalization(t *testing.T) {
	env.need(t, true)
	t.Parallel()
	for _, tc := range []struct{ name, listener, canon string }{
		{"relaxed", lnSignSubmission, "relaxed/relaxed"},
		{"simple", lnSignSimple, "simple/simple"},
	} {
		for _, subj := range []struct{ name, field string }{
			{"plain", "Subject: value"},
			{"tab after colon", "Subject:\tvalue"},
			{"two spaces after colon", "Subject:  value"},
			{"no space after colon", "Subject:value"},
			{"folded", "Subject: first\r\n\tsecond  line"},
			{"trailing space", "Subject: value  "},
		} {
			t.Run(tc.name+"/"+subj.name, func(t *testing.T) {
				t.Parallel()
				rcpt := rcptFor(t)
				env.dumpOnFailure(t, rcpt)
				from := "carol@" + domSign
				msg := testMessage(from, rcpt, "SUBJECT", "Canonicalization.\n")
				msg = bytes.Replace(msg, []byte("Subject: SUBJECT"), []byte(subj.field), 1)
				d, h := delivered(t, SwaksMessage{
					Server: env.postfix.Addr(tc.listener), ClientAddr: clientIP, ClientName: clientName,
					Helo: clientName, From: from, To: rcpt, Data: msg,
				})
				sigs := dkimSigs(h)
				if len(sigs) != 2 || sigs[0]["c"] != tc.canon {
					t.Fatalf("want two signatures with c=%s, got %q", tc.canon, h["Dkim-Signature"])
				}
				if !strings.Contains(strings.ToLower(":"+sigs[0]["h"]+":"), ":subject:") {
					t.Fatalf("Subject is not signed (h=%s): the case tests nothing", sigs[0]["h"])
				}
				if !bytes.Contains(d.Data, []byte(subj.field+"\r\n")) {
					t.Fatalf("Postfix changed the Subject field on the way; delivered:\n%s", d.Data)
				}
				next := "next." + rcpt
				_, h2 := delivered(t, SwaksMessage{
					Server: env.postfix.Addr(lnMTA), ClientAddr: strangerIP, ClientName: clientName,
					Helo: clientName, From: from, To: next, Data: d.Data,
				})
				dk := ourAR(t, h2).ByMethod("dkim")
				if len(dk) != 2 {
					t.Fatalf("next hop: want two dkim results, got %+v", dk)
				}
				for _, r := range dk {
					if r.Result != "pass" {
						t.Errorf("next hop: dkim=%s (%s) for header.s=%s", r.Result, r.Reason, r.Props["header.s"])
					}
				}
			})
		}
	}
}
