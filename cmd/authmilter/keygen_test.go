package main

import (
	"crypto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authmilter/authmilter/keystore"
	"github.com/authmilter/authmilter/policy/dkim"
)

// keygen writes a private key only its owner can read, which the key store
// loads, and a record whose public key matches it.
func TestKeygen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typ, bits string
		wantBits  int
	}{{"rsa", "2048", 2048}, {"ed25519", "", 256}} {
		t.Run(tc.typ, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := []string{"keygen", "-d", "Example.ORG.", "-s", "sel", "-t", tc.typ, "-o", dir}
			if tc.bits != "" {
				args = append(args, "-b", tc.bits)
			}
			code, out, errs := runCmd(t, "", args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			priv := filepath.Join(dir, "sel.private")
			fi, err := os.Stat(priv)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("private key: %v, mode %v", err, fi.Mode())
			}
			signer, err := keystore.LoadKey(priv, false)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := dkim.ParseKeyRecord(strings.TrimSpace(out))
			if err != nil {
				t.Fatalf("printed record %q: %v", out, err)
			}
			if rec.Bits != tc.wantBits || !signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(rec.Public) {
				t.Errorf("record bits %d, or public key does not match", rec.Bits)
			}
			zone, err := os.ReadFile(filepath.Join(dir, "sel.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(zone), "sel._domainkey.example.org.\tIN\tTXT\t( \"") {
				t.Errorf("zone line %q", zone)
			}
			// The zone line's strings, joined, are the printed value, and
			// none is longer than 255 octets (RFC 1035 §3.3.14).
			var joined strings.Builder
			for i, part := range strings.Split(string(zone), `"`) {
				if i%2 == 1 {
					if len(part) > 255 {
						t.Errorf("a character-string of %d octets", len(part))
					}
					joined.WriteString(part)
				}
			}
			if joined.String() != strings.TrimSpace(out) {
				t.Errorf("zone strings %q differ from the printed value %q", joined.String(), out)
			}
			if code, _, errs := runCmd(t, "", args...); code == 0 || !strings.Contains(errs, "exists") {
				t.Errorf("second run overwrote the key: %d %s", code, errs)
			}
		})
	}
}

func TestKeygenRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"keygen", "-d", "example.org", "-s", "sel", "-b", "512", "-o", t.TempDir()},
		{"keygen", "-d", "example.org", "-s", "sel", "-t", "dsa", "-o", t.TempDir()},
		{"keygen", "-d", "exa mple.org", "-s", "sel", "-o", t.TempDir()},
		{"keygen", "-s", "sel"},
	} {
		if code, _, _ := runCmd(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// sign prints the message with its signatures in the header; an mbox
// separator line stays first, and a client that is not ours is refused.
func TestSignKeepsMboxLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, _, errs := runCmd(t, "", "keygen", "-d", "example.org", "-s", "ed", "-t", "ed25519", "-o", dir); code != 0 {
		t.Fatal(errs)
	}
	cfg := writeFile(t, "c.toml", "authserv_id = \"mx.test\"\n[[signing.key]]\nname = \"ed\"\ndomain = \"example.org\"\nselector = \"ed\"\nprivate_key = \""+
		filepath.Join(dir, "ed.private")+"\"\n[[signing.rule]]\nfrom = \"*@example.org\"\nkeys = [\"ed\"]\n")
	msg := "From a@example.org Tue Dec  1 01:00:00 2026\nFrom: Alice <a@example.org>\nSubject: hi\n\nbody\n"
	code, out, errs := runCmd(t, msg, "sign", "-c", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.SplitN(out, "\n", 3)
	if lines[0] != "From a@example.org Tue Dec  1 01:00:00 2026" || !strings.HasPrefix(lines[1], "DKIM-Signature: ") || !strings.Contains(out, "\nFrom: Alice <a@example.org>\nSubject: hi\n\nbody\n") {
		t.Errorf("output:\n%s", out)
	}
	if code, _, errs := runCmd(t, msg, "sign", "-c", cfg, "--client-ip", "198.51.100.1"); code != 1 || !strings.Contains(errs, "not signed") {
		t.Errorf("outside client: exit %d %s", code, errs)
	}
}
