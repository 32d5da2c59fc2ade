// Package keystore loads the private keys authmilter signs with (DKIM, RFC
// 6376 Section 3.3; Ed25519, RFC 8463) and decides which keys sign a
// message, from the [signing] rules of the configuration file and from
// OpenDKIM's SigningTable and KeyTable files, so an OpenDKIM installation
// can be migrated without rewriting them.
//
// All file access happens in LoadKey and Build. Build returns an immutable
// *Set; the signing policy only calls Set.Lookup, which does no I/O and is
// safe for concurrent use.
package keystore

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Sentinel errors; every error of this package wraps one of them.
var (
	// ErrKeyFile: a key file could not be opened or read, or is not a
	// regular file.
	ErrKeyFile = errors.New("keystore: cannot read key file")
	// ErrKeyMode: a key file is readable or writable by more than its
	// owner (or its group, when group-readable keys are allowed).
	ErrKeyMode = errors.New("keystore: key file permissions too open")
	// ErrKeyFormat: a key file holds no private key authmilter can sign
	// with.
	ErrKeyFormat = errors.New("keystore: unusable private key")
	// ErrKeySize: an RSA key outside 1024..4096 bits (RFC 8301 Section
	// 3.2).
	ErrKeySize = errors.New("keystore: unsupported RSA key size")
	// ErrKeySpec: a key definition with a bad name, domain, selector or
	// path, or a name used twice.
	ErrKeySpec = errors.New("keystore: invalid key definition")
	// ErrRule: a signing rule with a bad pattern or naming an unknown key.
	ErrRule = errors.New("keystore: invalid signing rule")
	// ErrTable: an OpenDKIM SigningTable or KeyTable that cannot be read
	// or has a malformed line.
	ErrTable = errors.New("keystore: invalid table")
)

// Algorithms, as written in the a= tag (RFC 6376 Section 3.5, RFC 8463
// Section 3).
const (
	RSASHA256     = "rsa-sha256"
	Ed25519SHA256 = "ed25519-sha256"
)

// RSA key sizes: RFC 8301 Section 3.2 says signers MUST use at least 1024
// bits and SHOULD use at least 2048, and verifiers must be able to handle
// 1024 to 4096 bits, so larger keys would not verify everywhere.
const (
	MinRSABits  = 1024
	WeakRSABits = 2048
	MaxRSABits  = 4096
)

// maxKeyFileSize bounds what LoadKey reads: a 4096-bit RSA key in PEM is
// about 3.3 kB. A larger file is the wrong file.
const maxKeyFileSize = 64 << 10

// Key is one signing key and where it signs.
type Key struct {
	// Name identifies the key in rules and in log lines.
	Name string
	// Domain is the d= domain (lower case), or "%" for the domain of the
	// message's From address, so one key can sign for many hosted
	// domains (OpenDKIM's KeyTable convention). Lookup returns keys with
	// "%" already replaced.
	Domain string
	// Selector is the s= selector: the public key is published at
	// Selector._domainkey.Domain (RFC 6376 Section 3.6.2.1).
	Selector string
	// Path is the file the key was read from.
	Path string
	// Signer is an *rsa.PrivateKey or an ed25519.PrivateKey.
	Signer crypto.Signer
	// Algorithm is RSASHA256 or Ed25519SHA256.
	Algorithm string
	// Bits is the RSA modulus size, or 256 for Ed25519.
	Bits int
}

// Weak reports an RSA key under 2048 bits: allowed, but RFC 8301 Section
// 3.2 says signers SHOULD use at least 2048 bits, so callers log a warning.
func (k *Key) Weak() bool {
	return k.Algorithm == RSASHA256 && k.Bits < WeakRSABits
}

// String names the key without its secret: `"name" (selector._domainkey.domain, rsa-sha256 2048 bits, /path)`.
func (k *Key) String() string {
	return fmt.Sprintf("%q (%s._domainkey.%s, %s %d bits, %s)", k.Name, k.Selector, k.Domain, k.Algorithm, k.Bits, k.Path)
}

// LoadKey reads a private key for signing from path. Accepted formats are
// what the usual tools write:
//   - PEM "RSA PRIVATE KEY" (PKCS #1: opendkim-genkey, openssl genrsa -traditional);
//   - PEM "PRIVATE KEY" (PKCS #8, RSA or Ed25519: openssl genpkey);
//   - base64 of a 32-byte Ed25519 seed or 64-byte Ed25519 private key
//     (dkimpy's dknewkey --ktype ed25519);
//   - base64 or binary DER of PKCS #8 or PKCS #1.
//
// RSA keys must have 1024 to 4096 bits (RFC 8301 Section 3.2). The file
// must be a regular file (a symbolic link to one is followed, and the mode
// of the file it points to is checked) that only its owner can read or
// write; with allowGroupReadable its group may read it too, for setups
// where the key is owned by root and readable by authmilter's group.
// Errors never contain key material.
func LoadKey(path string, allowGroupReadable bool) (crypto.Signer, error) {
	data, err := readKeyFile(path, allowGroupReadable)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	return parseKey(path, data)
}

// readKeyFile checks and reads a key file. It stats before opening so a
// FIFO or device is refused without blocking, and checks the opened file
// again so the file read is the file checked.
func readKeyFile(path string, allowGroupReadable bool) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no path given", ErrKeyFile)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKeyFile, path, pathErrCause(err))
	}
	if err := checkKeyMode(path, fi, allowGroupReadable); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKeyFile, path, pathErrCause(err))
	}
	defer f.Close()
	fi2, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKeyFile, path, pathErrCause(err))
	}
	if !os.SameFile(fi, fi2) {
		return nil, fmt.Errorf("%w: %s: the file changed while it was being opened", ErrKeyFile, path)
	}
	if err := checkKeyMode(path, fi2, allowGroupReadable); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKeyFile, path, pathErrCause(err))
	}
	if len(data) > maxKeyFileSize {
		clear(data)
		return nil, fmt.Errorf("%w: %s: larger than %d bytes; is this a private key?", ErrKeyFormat, path, maxKeyFileSize)
	}
	return data, nil
}

// checkKeyMode refuses anything but a regular file that only its owner
// (and, if allowed, its group, for reading) can access. OpenDKIM's
// RequireSafeKeys does the same check (opendkim.conf(5)).
func checkKeyMode(path string, fi fs.FileInfo, allowGroupReadable bool) error {
	m := fi.Mode()
	if m.IsDir() {
		return fmt.Errorf("%w: %s is a directory, not a key file", ErrKeyFile, path)
	}
	if !m.IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrKeyFile, path)
	}
	perm := m.Perm()
	mask := fs.FileMode(0o077)
	want := "600"
	if allowGroupReadable {
		mask = 0o037
		want = "640"
	}
	bad := perm & mask
	if bad == 0 {
		return nil
	}
	var what []string
	for _, w := range []struct {
		bit  fs.FileMode
		text string
	}{
		{0o040, "readable by group"}, {0o020, "writable by group"}, {0o010, "executable by group"},
		{0o004, "readable by others"}, {0o002, "writable by others"}, {0o001, "executable by others"},
	} {
		if bad&w.bit != 0 {
			what = append(what, w.text)
		}
	}
	return fmt.Errorf("%w: %s: mode %04o: %s; chmod %s %s", ErrKeyMode, path, perm, strings.Join(what, ", "), want, path)
}

func pathErrCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parseKey decodes the formats LoadKey accepts. name is for messages.
func parseKey(name string, data []byte) (crypto.Signer, error) {
	if block, _ := pem.Decode(data); block != nil {
		defer clear(block.Bytes)
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, fmt.Errorf("%w: %s: the key is encrypted; write it unencrypted (openssl pkey -in FILE -out NEWFILE) and protect it with file permissions", ErrKeyFormat, name)
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: malformed RSA PRIVATE KEY: %v", ErrKeyFormat, name, err)
			}
			return checkSigner(name, k)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: malformed PRIVATE KEY: %v", ErrKeyFormat, name, err)
			}
			return checkSigner(name, k)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%w: %s: the key is encrypted; write it unencrypted (openssl pkey -in FILE -out NEWFILE) and protect it with file permissions", ErrKeyFormat, name)
		case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
			return nil, fmt.Errorf("%w: %s: holds a %s, not the private key", ErrKeyFormat, name, block.Type)
		case "EC PRIVATE KEY", "OPENSSH PRIVATE KEY":
			return nil, fmt.Errorf("%w: %s: %s is not a DKIM key type; DKIM signs with RSA or Ed25519 (RFC 6376, RFC 8463)", ErrKeyFormat, name, block.Type)
		default:
			return nil, fmt.Errorf("%w: %s: PEM block %q is not a private key", ErrKeyFormat, name, block.Type)
		}
	}
	// Not PEM: base64 (dkimpy's Ed25519 format, or DER), or binary DER.
	text := bytes.TrimSpace(data)
	if isBase64Text(text) {
		raw := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
		defer clear(raw)
		n, err := base64.StdEncoding.Decode(raw, text)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: not PEM, and not valid base64", ErrKeyFormat, name)
		}
		raw = raw[:n]
		switch n {
		case ed25519.SeedSize:
			return ed25519.NewKeyFromSeed(raw), nil
		case ed25519.PrivateKeySize:
			k := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
			if !bytes.Equal(k[ed25519.SeedSize:], raw[ed25519.SeedSize:]) {
				return nil, fmt.Errorf("%w: %s: 64-byte Ed25519 key whose public half does not match its seed", ErrKeyFormat, name)
			}
			return k, nil
		}
		return parseDER(name, raw)
	}
	if len(data) > 0 && data[0] == 0x30 { // ASN.1 SEQUENCE
		return parseDER(name, data)
	}
	return nil, fmt.Errorf("%w: %s: not a PEM, base64 or DER private key", ErrKeyFormat, name)
}

func isBase64Text(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

func parseDER(name string, der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return checkSigner(name, k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return checkSigner(name, k)
	}
	return nil, fmt.Errorf("%w: %s: not a PEM, base64 or DER private key", ErrKeyFormat, name)
}

// checkSigner accepts RSA keys of 1024 to 4096 bits and Ed25519 keys.
func checkSigner(name string, k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		bits := k.N.BitLen()
		if bits < MinRSABits || bits > MaxRSABits {
			// RFC 8301 Section 3.2.
			return nil, fmt.Errorf("%w: %s: RSA key of %d bits; DKIM keys must have %d to %d bits (RFC 8301 Section 3.2), 2048 recommended", ErrKeySize, name, bits, MinRSABits, MaxRSABits)
		}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: inconsistent RSA key: %v", ErrKeyFormat, name, err)
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	case *ed25519.PrivateKey:
		return *k, nil
	default:
		return nil, fmt.Errorf("%w: %s: %T is not a DKIM key type; DKIM signs with RSA or Ed25519 (RFC 6376, RFC 8463)", ErrKeyFormat, name, k)
	}
}

// describeSigner returns the algorithm and size of a key LoadKey returned.
func describeSigner(s crypto.Signer) (alg string, bits int) {
	switch k := s.(type) {
	case *rsa.PrivateKey:
		return RSASHA256, k.N.BitLen()
	case ed25519.PrivateKey:
		return Ed25519SHA256, 256
	}
	return "", 0
}
