package interop

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/authmilter/authmilter/e2e"
)

// TestKeygenOutput checks the files `authmilter keygen` wrote in setup:
// the private key is PKCS #8 PEM with mode 0600, the zone-file line names
// SELECTOR._domainkey.DOMAIN and splits the record into strings of at most
// 255 octets (RFC 1035 §3.3.14), which joined are exactly the value
// printed on standard output, and that value's p= is the public half of
// the private key (RFC 6376 §3.6.1; the raw key for Ed25519, RFC 8463
// §4.2).
func TestKeygenOutput(t *testing.T) {
	env.need(t)
	t.Parallel()
	for _, tc := range []struct{ sel, k string }{{selRSA, "rsa"}, {selEd, "ed25519"}} {
		t.Run(tc.k, func(t *testing.T) {
			t.Parallel()
			priv := filepath.Join(env.keyDir, tc.sel+".private")
			fi, err := os.Stat(priv)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", priv, fi.Mode().Perm())
			}
			data, err := os.ReadFile(priv)
			if err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode(data)
			if block == nil || block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) > 0 {
				t.Fatalf("%s is not one PEM PRIVATE KEY block:\n%s", priv, data)
			}
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatalf("%s: not PKCS #8: %v", priv, err)
			}
			var wantP string
			switch key := key.(type) {
			case *rsa.PrivateKey:
				if tc.k != "rsa" || key.N.BitLen() != 2048 {
					t.Errorf("got an RSA key of %d bits, want %s (2048 bits for rsa)", key.N.BitLen(), tc.k)
				}
				der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
				if err != nil {
					t.Fatal(err)
				}
				wantP = base64.StdEncoding.EncodeToString(der)
			case ed25519.PrivateKey:
				if tc.k != "ed25519" {
					t.Errorf("got an Ed25519 key, want %s", tc.k)
				}
				wantP = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
			default:
				t.Fatalf("unexpected key type %T", key)
			}
			value := env.keygenOut[tc.sel]
			if want := "v=DKIM1; k=" + tc.k + "; p=" + wantP; value != want {
				t.Errorf("keygen printed\n%s\nwant\n%s", value, want)
			}

			txt, err := os.ReadFile(filepath.Join(env.keyDir, tc.sel+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			owner, strs := parseZoneLine(t, string(txt))
			if want := tc.sel + "._domainkey." + ours + "."; owner != want {
				t.Errorf("zone line owner %q, want %q", owner, want)
			}
			for i, s := range strs {
				if len(s) > 255 || len(s) == 0 {
					t.Errorf("character-string %d has %d octets (1 to 255 allowed)", i, len(s))
				}
			}
			if joined := strings.Join(strs, ""); joined != value {
				t.Errorf("zone line record\n%s\ndiffers from the printed value\n%s", joined, value)
			}
			if tc.k == "rsa" && len(strs) < 2 {
				t.Errorf("a 2048-bit RSA record (%d octets) must be split, got one string", len(value))
			}
		})
	}
}

// zoneLineRE matches `owner IN TXT ( "..." "..." )` over several lines.
var zoneLineRE = regexp.MustCompile(`(?s)^(\S+)\s+IN\s+TXT\s+\(\s*((?:"[^"\\]*"\s*)+)\)\s*$`)

// parseZoneLine reads the owner name and the character-strings of a BIND
// zone-file TXT line (RFC 1035 §5.1); keygen's values hold no quotes or
// backslashes.
func parseZoneLine(t *testing.T, line string) (string, []string) {
	t.Helper()
	m := zoneLineRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not a zone-file TXT line:\n%s", line)
	}
	var strs []string
	for _, q := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[2], -1) {
		strs = append(strs, q[1])
	}
	return m[1], strs
}

// TestTestkey: keys whose records keygen's output was published as pass
// `authmilter testkey`; a key whose record holds another key's p= fails
// it with a "does not match" message, and so does a key with no record,
// with "not found". Each case is a configuration with that one key.
func TestTestkey(t *testing.T) {
	env.need(t)
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Fresh keys for the failing cases, published under other keys'
	// records.
	gen := func(sel, typ string) string {
		res, err := e2e.RunCommand(ctxFor(t), env.bin, nil, "keygen", "-d", ours, "-s", sel, "-t", typ, "-o", dir)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("keygen %s: %v %+v", sel, err, res)
		}
		return strings.TrimSpace(res.Stdout)
	}
	gen("mm-rsa", "rsa")
	gen("mm-ed", "ed25519")
	gen("nothing", "ed25519")
	env.zone.AddTXT("mm-rsa._domainkey."+ours, env.keygenOut[selRSA])
	env.zone.AddTXT("mm-ed._domainkey."+ours, env.keygenOut[selEd])

	for _, tc := range []struct {
		name, sel, path string
		exit            int
		want            string // in stdout, without regard to case
	}{
		{"rsa published", selRSA, filepath.Join(env.keyDir, selRSA+".private"), 0, "public key matches"},
		{"ed25519 published", selEd, filepath.Join(env.keyDir, selEd+".private"), 0, "public key matches"},
		{"rsa mismatch", "mm-rsa", filepath.Join(dir, "mm-rsa.private"), 1, "does not match"},
		{"ed25519 mismatch", "mm-ed", filepath.Join(dir, "mm-ed.private"), 1, "does not match"},
		{"no record", "nothing", filepath.Join(dir, "nothing.private"), 1, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := e2e.WriteConfig(t.TempDir(), "testkey.toml", e2e.DaemonConfig{
				AuthservID:  authservID,
				Nameservers: []string{env.dns.Addr()},
				DNSTimeout:  "2s",
				Signing: e2e.SigningSettings{
					Keys:  []e2e.SigningKey{{Name: "k", Domain: ours, Selector: tc.sel, PrivateKey: tc.path}},
					Rules: []e2e.SigningRule{{From: "*@" + ours, Keys: []string{"k"}}},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := e2e.RunCommand(ctxFor(t), env.bin, nil, "testkey", "-c", cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != tc.exit || !strings.Contains(strings.ToLower(res.Stdout), tc.want) {
				t.Errorf("testkey: exit %d, want %d with %q in stdout\nstdout:\n%s\nstderr:\n%s", res.ExitCode, tc.exit, tc.want, res.Stdout, res.Stderr)
			}
		})
	}
}

// TestSignVerifyRoundTrip: `authmilter sign` output fed to `authmilter
// verify` gives dkim=pass, for RSA, Ed25519 and both; a changed Subject
// (a signed field) gives dkim=fail. The verifying run judges the message
// as received from an outside client, as the next hop would.
func TestSignVerifyRoundTrip(t *testing.T) {
	env.need(t)
	t.Parallel()
	rsaSel := wantSel{ours, selRSA, "rsa-sha256"}
	edSel := wantSel{ours, selEd, "ed25519-sha256"}
	for _, tc := range []struct {
		name, from string
		want       []wantSel
	}{
		{"rsa", "rsa@" + ours, []wantSel{rsaSel}},
		{"ed25519", "ed@" + ours, []wantSel{edSel}},
		{"rsa and ed25519", "bob@" + ours, []wantSel{rsaSel, edSel}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			signed := signOurs(t, env.signCfg, message(tc.from, "round trip "+tc.name, true))
			results, show := verifyOurs(t, signed, tc.from)
			checkDKIM(t, "authmilter", results, "pass", tc.want, show+"\nmessage:\n"+string(signed))

			changed := bytes.Replace(signed, []byte("Subject: round trip"), []byte("Subject: Round trip"), 1)
			if bytes.Equal(changed, signed) {
				t.Fatal("the Subject to change is not in the signed message")
			}
			results, show = verifyOurs(t, changed, tc.from)
			checkDKIM(t, "authmilter (Subject changed)", results, "fail", tc.want, show)
		})
	}
}

// TestSignWho: `authmilter sign` signs only what the daemon would sign:
// mail from internal_networks, from an SMTP-authenticated client, or
// through a listener named in daemon_names (default ORIGINATING); an
// outside client's mail is not signed, whatever its From says.
func TestSignWho(t *testing.T) {
	env.need(t)
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		signed bool
	}{
		{"internal network", []string{"--client-ip", "127.0.0.1"}, true},
		{"authenticated", []string{"--client-ip", clientIP, "--auth-user", "alice"}, true},
		{"ORIGINATING", []string{"--client-ip", clientIP, "--daemon-name", "ORIGINATING"}, true},
		{"outside client", []string{"--client-ip", clientIP}, false},
		{"outside client, other listener", []string{"--client-ip", clientIP, "--daemon-name", "MTA"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"sign", "-c", env.signCfg}, tc.args...)
			res, err := e2e.RunCommand(ctxFor(t), env.bin, message("carol@"+ours, "who", false), args...)
			if err != nil {
				t.Fatal(err)
			}
			n := len(signatures(t, []byte(res.Stdout)))
			switch {
			case tc.signed && (res.ExitCode != 0 || n != 2):
				t.Errorf("want two signatures, got %d (exit %d)\nstdout:\n%s\nstderr:\n%s", n, res.ExitCode, res.Stdout, res.Stderr)
			case !tc.signed && (res.ExitCode == 0 || n != 0):
				t.Errorf("want no signature and a non-zero exit, got %d signatures (exit %d)\nstderr:\n%s", n, res.ExitCode, res.Stderr)
			}
		})
	}
}

// TestOpenDKIMTables: an OpenDKIM installation's SigningTable (refile:)
// and KeyTable, used as they are: the matching KeyTable key signs, "%" in
// the KeyTable's domain becomes the From domain, and the signatures verify
// with OpenDKIM and with authmilter.
func TestOpenDKIMTables(t *testing.T) {
	env.need(t)
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, sel := range []string{"mail", "hosted"} {
		res, err := e2e.RunCommand(ctxFor(t), env.bin, nil, "keygen", "-d", "placeholder.example", "-s", sel, "-o", dir)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("keygen %s: %v %+v", sel, err, res)
		}
		value := strings.TrimSpace(res.Stdout)
		switch sel {
		case "mail":
			env.zone.AddTXT("mail._domainkey.table.example", value)
		case "hosted":
			env.zone.AddTXT("hosted._domainkey.hosted-a.example", value)
			env.zone.AddTXT("hosted._domainkey.hosted-b.example", value)
		}
	}
	signingTable := filepath.Join(dir, "SigningTable")
	keyTable := filepath.Join(dir, "KeyTable")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(signingTable, "# OpenDKIM SigningTable (refile)\n*@table.example\tmailkey\n*@hosted-a.example hostedkey\n*@hosted-b.example hostedkey\n")
	write(keyTable, "mailkey table.example:mail:"+filepath.Join(dir, "mail.private")+"\nhostedkey %:hosted:"+filepath.Join(dir, "hosted.private")+"\n")
	cfg, err := e2e.WriteConfig(dir, "tables.toml", e2e.DaemonConfig{
		AuthservID:  authservID,
		Nameservers: []string{env.dns.Addr()},
		DNSTimeout:  "2s",
		Signing:     e2e.SigningSettings{SigningTable: "refile:" + signingTable, KeyTable: keyTable},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, d, s string }{
		{"user@table.example", "table.example", "mail"},
		{"user@hosted-a.example", "hosted-a.example", "hosted"},
		{"user@hosted-b.example", "hosted-b.example", "hosted"},
	} {
		t.Run(tc.d, func(t *testing.T) {
			t.Parallel()
			signed := signOurs(t, cfg, message(tc.from, "tables", false))
			want := []wantSel{{tc.d, tc.s, "rsa-sha256"}}
			sigs := signatures(t, signed)
			if len(sigs) != 1 || sigs[0].tags["d"] != tc.d || sigs[0].tags["s"] != tc.s {
				t.Fatalf("want one signature d=%s s=%s:\n%s", tc.d, tc.s, signed)
			}
			results, show := verifyOurs(t, signed, tc.from)
			checkDKIM(t, "authmilter", results, "pass", want, show)
			od := OpenDKIM{Dir: t.TempDir(), DNSAddr: env.dns.Addr()}
			ar, out, err := od.Verify(ctxFor(t), "msg.eml", signed)
			if err != nil {
				t.Fatal(err)
			}
			checkDKIM(t, "opendkim", ar.ByMethod("dkim"), "pass", want, out)
		})
	}
}
