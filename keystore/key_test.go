package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Test keys are generated once per test binary: RSA generation is slow
// under -race.
var (
	keysOnce sync.Once
	rsa1024  *rsa.PrivateKey
	rsa2048  *rsa.PrivateKey
	edKey    ed25519.PrivateKey
)

func testKeys(t testing.TB) {
	if t != nil {
		t.Helper()
	}
	keysOnce.Do(func() {
		var err error
		if rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
		if rsa2048, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		seed := make([]byte, ed25519.SeedSize)
		for i := range seed {
			seed[i] = byte(i)
		}
		edKey = ed25519.NewKeyFromSeed(seed)
	})
}

func mustPKCS8(k any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return der
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// writeFile writes data to name in dir with mode perm (chmod after
// writing, so the umask does not interfere) and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

func copyTestdata(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, data, 0o600)
}

func TestLoadKeyFormats(t *testing.T) {
	t.Parallel()
	testKeys(t)
	dir := t.TempDir()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(rsa2048.Public())
	if err != nil {
		t.Fatal(err)
	}
	seed := edKey.Seed()
	badPair := append(append([]byte(nil), seed...), make([]byte, 32)...)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}})

	tests := []struct {
		name    string
		data    []byte
		file    string // from testdata instead of data
		want    crypto.PublicKey
		alg     string
		bits    int
		kind    error
		errText string
	}{
		{name: "PKCS1 PEM 2048", data: pemBytes("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048)), want: rsa2048.Public(), alg: RSASHA256, bits: 2048},
		{name: "PKCS1 PEM 1024", data: pemBytes("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024)), want: rsa1024.Public(), alg: RSASHA256, bits: 1024},
		{name: "PKCS8 PEM RSA", data: pemBytes("PRIVATE KEY", pkcs8(t, rsa2048)), want: rsa2048.Public(), alg: RSASHA256, bits: 2048},
		{name: "PKCS8 PEM Ed25519", data: pemBytes("PRIVATE KEY", pkcs8(t, edKey)), want: edKey.Public(), alg: Ed25519SHA256, bits: 256},
		{name: "PEM after text", data: append([]byte("Private-Key: (2048 bit)\n"), pemBytes("PRIVATE KEY", pkcs8(t, rsa2048))...), want: rsa2048.Public(), alg: RSASHA256, bits: 2048},
		{name: "dkimpy Ed25519 seed", data: []byte(base64.StdEncoding.EncodeToString(seed) + "\n"), want: edKey.Public(), alg: Ed25519SHA256, bits: 256},
		{name: "Ed25519 64-byte key", data: []byte(base64.StdEncoding.EncodeToString(edKey)), want: edKey.Public(), alg: Ed25519SHA256, bits: 256},
		{name: "base64 DER PKCS8", data: []byte(base64.StdEncoding.EncodeToString(pkcs8(t, rsa2048))), want: rsa2048.Public(), alg: RSASHA256, bits: 2048},
		{name: "binary DER PKCS1", data: x509.MarshalPKCS1PrivateKey(rsa1024), want: rsa1024.Public(), alg: RSASHA256, bits: 1024},

		{name: "RSA 512 refused", file: "rsa512.pem", kind: ErrKeySize, errText: "RSA key of 512 bits; DKIM keys must have 1024 to 4096 bits (RFC 8301 Section 3.2), 2048 recommended"},
		{name: "RSA 4608 refused", file: "rsa4608.pem", kind: ErrKeySize, errText: "RSA key of 4608 bits"},
		{name: "EC refused", data: pemBytes("EC PRIVATE KEY", ecDER), kind: ErrKeyFormat, errText: "EC PRIVATE KEY is not a DKIM key type"},
		{name: "EC PKCS8 refused", data: pemBytes("PRIVATE KEY", pkcs8(t, ecKey)), kind: ErrKeyFormat, errText: "*ecdsa.PrivateKey is not a DKIM key type"},
		{name: "public key", data: pemBytes("PUBLIC KEY", pubDER), kind: ErrKeyFormat, errText: "holds a PUBLIC KEY, not the private key"},
		{name: "encrypted", data: encrypted, kind: ErrKeyFormat, errText: "the key is encrypted"},
		{name: "encrypted PKCS8", data: pemBytes("ENCRYPTED PRIVATE KEY", []byte{1, 2}), kind: ErrKeyFormat, errText: "the key is encrypted"},
		{name: "mismatched Ed25519 pair", data: []byte(base64.StdEncoding.EncodeToString(badPair)), kind: ErrKeyFormat, errText: "public half does not match"},
		{name: "garbage", data: []byte("hello, world\n"), kind: ErrKeyFormat, errText: "not a PEM, base64 or DER private key"},
		{name: "empty", data: nil, kind: ErrKeyFormat, errText: "not a PEM, base64 or DER private key"},
		{name: "short base64", data: []byte("QUJD"), kind: ErrKeyFormat, errText: "not a PEM, base64 or DER private key"},
		{name: "bad PKCS1", data: pemBytes("RSA PRIVATE KEY", []byte{0x30, 0x03, 1, 2, 3}), kind: ErrKeyFormat, errText: "malformed RSA PRIVATE KEY"},
		{name: "too large", data: make([]byte, maxKeyFileSize+1), kind: ErrKeyFormat, errText: "larger than 65536 bytes"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p string
			if tt.file != "" {
				p = copyTestdata(t, t.TempDir(), tt.file)
			} else {
				p = writeFile(t, dir, "key"+strings.Repeat("x", i), tt.data, 0o600)
			}
			s, err := LoadKey(p, false)
			if tt.kind != nil {
				if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.errText) || !strings.Contains(err.Error(), p) {
					t.Fatalf("LoadKey = %v; want %v containing %q and the path", err, tt.kind, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			type equaler interface{ Equal(crypto.PublicKey) bool }
			if !s.Public().(equaler).Equal(tt.want) {
				t.Error("loaded a different key")
			}
			if alg, bits := describeSigner(s); alg != tt.alg || bits != tt.bits {
				t.Errorf("describeSigner = %s %d, want %s %d", alg, bits, tt.alg, tt.bits)
			}
		})
	}
}

// TestLoadKeyNoSecretsInErrors checks that errors about a key's content do
// not repeat it.
func TestLoadKeyNoSecretsInErrors(t *testing.T) {
	t.Parallel()
	testKeys(t)
	dir := t.TempDir()
	der := x509.MarshalPKCS1PrivateKey(rsa1024)
	b64 := base64.StdEncoding.EncodeToString(der[:len(der)-3]) // truncated DER
	for name, data := range map[string][]byte{
		"truncated base64": []byte(b64),
		"truncated PEM":    pemBytes("RSA PRIVATE KEY", der[:len(der)-3]),
	} {
		p := writeFile(t, dir, strings.ReplaceAll(name, " ", "-"), data, 0o600)
		_, err := LoadKey(p, false)
		if err == nil {
			t.Fatalf("%s: loaded", name)
		}
		if strings.Contains(err.Error(), b64[10:30]) || len(err.Error()) > 300 {
			t.Errorf("%s: error may contain key material: %v", name, err)
		}
	}
}

func TestLoadKeyPermissions(t *testing.T) {
	t.Parallel()
	testKeys(t)
	dir := t.TempDir()
	good := pemBytes("PRIVATE KEY", pkcs8(t, edKey))
	target := writeFile(t, dir, "target.pem", good, 0o600)
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	openTarget := writeFile(t, dir, "open.pem", good, 0o644)
	openLink := filepath.Join(dir, "openlink.pem")
	if err := os.Symlink(openTarget, openLink); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	tests := []struct {
		name       string
		mode       os.FileMode
		path       string // instead of a new file of mode
		allowGroup bool
		want       string // error text after the sentinel; "" for success
		kind       error
	}{
		{name: "0600", mode: 0o600},
		{name: "0400", mode: 0o400},
		{name: "0644", mode: 0o644, want: "FILE: mode 0644: readable by group, readable by others; chmod 600 FILE", kind: ErrKeyMode},
		{name: "0604", mode: 0o604, want: "FILE: mode 0604: readable by others; chmod 600 FILE", kind: ErrKeyMode},
		{name: "0640", mode: 0o640, want: "FILE: mode 0640: readable by group; chmod 600 FILE", kind: ErrKeyMode},
		{name: "0640 group allowed", mode: 0o640, allowGroup: true},
		{name: "0440 group allowed", mode: 0o440, allowGroup: true},
		{name: "0660 group allowed", mode: 0o660, allowGroup: true, want: "FILE: mode 0660: writable by group; chmod 640 FILE", kind: ErrKeyMode},
		{name: "0644 group allowed", mode: 0o644, allowGroup: true, want: "FILE: mode 0644: readable by others; chmod 640 FILE", kind: ErrKeyMode},
		{name: "0610", mode: 0o610, want: "FILE: mode 0610: executable by group; chmod 600 FILE", kind: ErrKeyMode},
		{name: "0666", mode: 0o666, want: "FILE: mode 0666: readable by group, writable by group, readable by others, writable by others; chmod 600 FILE", kind: ErrKeyMode},
		{name: "directory", path: dir, want: "FILE is a directory, not a key file", kind: ErrKeyFile},
		{name: "symlink to 0600 file", path: link},
		{name: "symlink to 0644 file", path: openLink, want: "FILE: mode 0644: readable by group, readable by others; chmod 600 FILE", kind: ErrKeyMode},
		{name: "missing", path: filepath.Join(dir, "missing"), want: "FILE: no such file or directory", kind: ErrKeyFile},
		{name: "fifo", path: fifo, want: "FILE is not a regular file", kind: ErrKeyFile},
		{name: "empty path", path: "", want: "no path given", kind: ErrKeyFile},
	}
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := tt.path
			if p == "" && tt.name != "empty path" {
				p = writeFile(t, dir, "k"+strings.Repeat("x", i)+".pem", good, tt.mode)
			}
			_, err := LoadKey(p, tt.allowGroup)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			want := tt.kind.Error() + ": " + strings.ReplaceAll(tt.want, "FILE", p)
			if err == nil || err.Error() != want || !errors.Is(err, tt.kind) {
				t.Errorf("LoadKey = %v\nwant %s", err, want)
			}
		})
	}
}

func TestKeyWeak(t *testing.T) {
	t.Parallel()
	tests := []struct {
		k    Key
		weak bool
	}{
		{Key{Algorithm: RSASHA256, Bits: 1024}, true},
		{Key{Algorithm: RSASHA256, Bits: 2047}, true},
		{Key{Algorithm: RSASHA256, Bits: 2048}, false},
		{Key{Algorithm: Ed25519SHA256, Bits: 256}, false},
	}
	for _, tt := range tests {
		if got := tt.k.Weak(); got != tt.weak {
			t.Errorf("%+v.Weak() = %v", tt.k, got)
		}
	}
	k := Key{Name: "main", Domain: "example.com", Selector: "s1", Algorithm: RSASHA256, Bits: 2048, Path: "/k"}
	if got, want := k.String(), `"main" (s1._domainkey.example.com, rsa-sha256 2048 bits, /k)`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}
