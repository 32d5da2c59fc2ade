package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// cmdKeygen writes a new DKIM key pair: SELECTOR.private (the private key,
// mode 0600) and SELECTOR.txt (a zone-file line for the public key), and
// prints the record's value on one line for web DNS panels.
func cmdKeygen(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flagSet("keygen", stderr)
	domain := fs.String("d", "", "signing `DOMAIN` (d=)")
	selector := fs.String("s", "", "`SELECTOR` (s=)")
	typ := fs.String("t", "rsa", "key type: rsa or ed25519")
	bits := fs.Int("b", 2048, "RSA key size in `BITS` (1024 to 4096; RFC 8301)")
	dir := fs.String("o", ".", "output `DIR`")
	force := fs.Bool("f", false, "overwrite existing files")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *domain == "" || *selector == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: authmilter keygen -d DOMAIN -s SELECTOR [-t rsa|ed25519] [-b BITS] [-o DIR]")
		return 2
	}
	d := strings.ToLower(strings.TrimSuffix(*domain, "."))
	if !validLabelName(d) || !validLabelName(*selector) {
		fmt.Fprintln(stderr, "authmilter keygen: domain and selector must be DNS names (letters, digits, hyphens, dots)")
		return 2
	}
	priv, pub, err := generate(*typ, *bits)
	if err != nil {
		fmt.Fprintln(stderr, "authmilter keygen:", err)
		return 2
	}
	if *typ == "rsa" && *bits < 2048 {
		fmt.Fprintf(stderr, "authmilter keygen: warning: %d-bit RSA keys are weak; use 2048 or more\n", *bits)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		fmt.Fprintln(stderr, "authmilter keygen:", err)
		return 1
	}
	value := dkimRecord(*typ, pub)
	privPath := filepath.Join(*dir, *selector+".private")
	txtPath := filepath.Join(*dir, *selector+".txt")
	if !*force {
		// Check both before writing either: no half-written pair.
		for _, p := range []string{privPath, txtPath} {
			if _, err := os.Lstat(p); err == nil {
				fmt.Fprintf(stderr, "authmilter keygen: %s exists; use -f to overwrite\n", p)
				return 1
			}
		}
	}
	if err := writeKeyFile(privPath, 0o600, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		fmt.Fprintln(stderr, "authmilter keygen:", err)
		return 1
	}
	if err := writeKeyFile(txtPath, 0o644, []byte(zoneLine(*selector, d, value))); err != nil {
		fmt.Fprintln(stderr, "authmilter keygen:", err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote %s (private, mode 0600) and %s (zone-file line)\n", privPath, txtPath)
	fmt.Fprintf(stderr, "publish this TXT record at %s._domainkey.%s:\n", *selector, d)
	fmt.Fprintln(stdout, value)
	return 0
}

func generate(typ string, bits int) (crypto.Signer, []byte, error) {
	switch typ {
	case "rsa":
		if bits < 1024 || bits > 4096 {
			return nil, nil, fmt.Errorf("-b %d: RSA keys must be 1024 to 4096 bits (RFC 8301 §3.2)", bits)
		}
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, nil, err
		}
		pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		return k, pub, err
	case "ed25519":
		pub, k, err := ed25519.GenerateKey(rand.Reader)
		return k, pub, err
	}
	return nil, nil, fmt.Errorf("-t %q: the key type is rsa or ed25519", typ)
}

// dkimRecord is the key record (RFC 6376 §3.6.1; RFC 8463 §4 for
// ed25519, whose p= is the raw 32-byte public key).
func dkimRecord(typ string, pub []byte) string {
	k := "rsa"
	if typ == "ed25519" {
		k = "ed25519"
	}
	return "v=DKIM1; k=" + k + "; p=" + base64.StdEncoding.EncodeToString(pub)
}

// zoneLine is a BIND zone-file line with the value split into
// character-strings of at most 255 octets (RFC 1035 §3.3.14), which one TXT
// record may hold several of; resolvers join them (RFC 6376 §3.6.2.2).
func zoneLine(selector, domain, value string) string {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, `"`+value[:255]+`"`)
		value = value[255:]
	}
	parts = append(parts, `"`+value+`"`)
	return fmt.Sprintf("%s._domainkey.%s.\tIN\tTXT\t( %s )\n", selector, domain, strings.Join(parts, "\n\t\t\t\t"))
}

// writeKeyFile writes data to a new temporary file beside path (created
// with O_EXCL, so never through a planted symbolic link, and with mode
// from the start, so the key is never readable by others even for a
// moment) and renames it over path: path is replaced, not written through.
func writeKeyFile(path string, mode os.FileMode, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".keygen-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// validLabelName checks a DNS name made of LDH labels (RFC 1035 §2.3.1,
// underscores allowed as in service names).
func validLabelName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
