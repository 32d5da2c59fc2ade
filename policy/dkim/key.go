package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
)

// publicKey is a parsed DKIM key record (RFC 6376 §3.6.1).
type publicKey struct {
	keyType  string   // k=, "rsa" by default
	hashes   []string // h=, nil means any
	services []string // s=, nil means "*"
	flags    []string // t=
	bits     int      // RSA modulus length, or 256 for Ed25519
	rsa      *rsa.PublicKey
	ed25519  ed25519.PublicKey
}

func (k *publicKey) hasFlag(f string) bool {
	for _, x := range k.flags {
		if x == f {
			return true
		}
	}
	return false
}

// parseKeyRecord parses one TXT record holding a DKIM public key, with the
// same rules go-msgauth applies plus the ones it skips, so that Result can
// report KeyBits and exact reasons. Errors wrap ErrKeySyntax, ErrKeyRevoked
// or ErrKeyUnsupported.
func parseKeyRecord(txt string) (*publicKey, error) {
	tags, err := parseTagList(txt)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeySyntax, err)
	}
	k := &publicKey{keyType: "rsa"}
	var p string
	var hasP bool
	for i, t := range tags {
		switch t.Name {
		case "v":
			// §3.6.1 v=: "If specified, this tag MUST be set to "DKIM1"
			// ... and MUST be the first tag in the record."
			if i != 0 || t.Value != "DKIM1" {
				return nil, fmt.Errorf("%w: v=%q (want DKIM1 as the first tag)", ErrKeySyntax, clip(t.Value))
			}
		case "k":
			k.keyType = strings.ToLower(stripFWS(t.Value))
		case "h":
			k.hashes = splitColonList(strings.ToLower(t.Value))
		case "s":
			k.services = splitColonList(strings.ToLower(t.Value))
		case "t":
			k.flags = splitColonList(strings.ToLower(t.Value))
		case "p":
			p, hasP = stripFWS(t.Value), true
		}
	}
	if !hasP {
		return nil, fmt.Errorf("%w: no p= tag", ErrKeySyntax)
	}
	// §3.6.1 p=: "An empty value means that this public key has been
	// revoked."
	if p == "" {
		return k, ErrKeyRevoked
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("%w: p= is not base64", ErrKeySyntax)
	}
	switch k.keyType {
	case "rsa":
		// RFC 6376 says SubjectPublicKeyInfo, but erratum 3017 and
		// common practice also allow a bare RSAPublicKey.
		var pub *rsa.PublicKey
		if parsed, err := x509.ParsePKIXPublicKey(der); err == nil {
			rp, ok := parsed.(*rsa.PublicKey)
			if !ok {
				return nil, fmt.Errorf("%w: k=rsa but p= is not an RSA key", ErrKeySyntax)
			}
			pub = rp
		} else if rp, err := x509.ParsePKCS1PublicKey(der); err == nil {
			pub = rp
		} else {
			return nil, fmt.Errorf("%w: p= is not an RSA public key", ErrKeySyntax)
		}
		k.bits, k.rsa = pub.N.BitLen(), pub
	case "ed25519":
		// RFC 8463 §4.2: p= is the raw 32-byte key, not SPKI-wrapped.
		if len(der) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: Ed25519 key is %d bytes, want %d", ErrKeySyntax, len(der), ed25519.PublicKeySize)
		}
		k.bits, k.ed25519 = 256, ed25519.PublicKey(der)
	default:
		return nil, fmt.Errorf("%w: k=%q", ErrKeyUnsupported, clip(k.keyType))
	}
	return k, nil
}

// KeyRecord is a DKIM key record as tools see it (`authmilter testkey`).
type KeyRecord struct {
	Type    string           // k=: "rsa" or "ed25519"
	Bits    int              // RSA modulus length, 256 for Ed25519
	Public  crypto.PublicKey // *rsa.PublicKey or ed25519.PublicKey
	Testing bool             // t=y (RFC 6376 §3.6.1)
}

// ParseKeyRecord parses one TXT record holding a DKIM public key with the
// verifier's own rules, so that testkey and verification agree.
func ParseKeyRecord(txt string) (*KeyRecord, error) {
	k, err := parseKeyRecord(txt)
	if err != nil {
		return nil, err
	}
	r := &KeyRecord{Type: k.keyType, Bits: k.bits, Testing: k.hasFlag("y")}
	if k.rsa != nil {
		r.Public = k.rsa
	} else {
		r.Public = k.ed25519
	}
	return r, nil
}
