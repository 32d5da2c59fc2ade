package e2e

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"

	"github.com/authmilter/authmilter/resolver"
)

// The client every test presents with XCLIENT unless it says otherwise, and
// the names the zone gives records to. Addresses are from the documentation
// ranges (RFC 5737, RFC 3849); nothing is ever sent to them.
const (
	clientIP   = "192.0.2.10"
	clientName = "mail.sender.example"
	clientIPv6 = "2001:db8::25"

	domPass     = "spf-pass.example"     // v=spf1 ip4:clientIP -all
	domFail     = "spf-fail.example"     // v=spf1 ip4:192.0.2.99 -all
	domSoftfail = "spf-softfail.example" // v=spf1 ip4:192.0.2.99 ~all
	domTimeout  = "spf-timeout.example"  // every query dropped
	domIPv6     = "spf-ipv6.example"     // v=spf1 ip6:2001:db8::/32 -all
	heloNull    = "null-helo.example"    // the HELO name of the null-sender test
	domDKIM     = "dkim.example"         // signs with ed25519 (selector ed) and RSA (selector rsa)
	domDKIM2    = "dkim-two.example"     // a second signer (ed25519, selector s2)
)

// zoneKeys are the DKIM private keys whose public halves the zone
// publishes.
type zoneKeys struct {
	ed, ed2 ed25519.PrivateKey
	rsa     *rsa.PrivateKey
	// signRSA and signEd are the keys the signing daemon signs
	// domSign's mail with (see addSigningZone).
	signRSA *rsa.PrivateKey
	signEd  ed25519.PrivateKey
}

// buildZone makes the zone every e2e test uses. It is complete before the
// DNS server starts: the Fake's Timeout map has no locked setter, and the
// server reads the zone from other goroutines.
func buildZone() (*resolver.Fake, *zoneKeys, error) {
	z := resolver.NewFake()
	spf := func(domain, record string) { z.AddTXT(domain, record) }
	spf(domPass, "v=spf1 ip4:"+clientIP+" -all")
	spf(domFail, "v=spf1 ip4:192.0.2.99 -all")
	spf(domSoftfail, "v=spf1 ip4:192.0.2.99 ~all")
	z.Timeout[domTimeout] = true
	spf(domIPv6, "v=spf1 ip6:2001:db8::/32 -all")
	spf(heloNull, "v=spf1 ip4:"+clientIP+" -all")
	spf(domDKIM, "v=spf1 ip4:"+clientIP+" -all")
	spf(domDKIM2, "v=spf1 -all")

	var k zoneKeys
	var err error
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, nil, err
	}
	if _, k.ed2, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, nil, err
	}
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, nil, err
	}
	for _, key := range []struct {
		name   string
		signer crypto.Signer
	}{
		{"ed._domainkey." + domDKIM, k.ed},
		{"rsa._domainkey." + domDKIM, k.rsa},
		{"s2._domainkey." + domDKIM2, k.ed2},
	} {
		rec, err := dkimKeyRecord(key.signer)
		if err != nil {
			return nil, nil, err
		}
		z.AddTXT(key.name, rec)
	}
	if err := addDMARCZone(z, &k); err != nil {
		return nil, nil, err
	}
	if err := addSigningZone(z, &k); err != nil {
		return nil, nil, err
	}
	return z, &k, nil
}

// dkimKeyRecord is the DKIM key record (RFC 6376 §3.6.1) for the public half
// of s: p= is the raw 32-byte key for ed25519 (RFC 8463 §4.2) and the
// SubjectPublicKeyInfo for RSA.
func dkimKeyRecord(s crypto.Signer) (string, error) {
	switch pub := s.Public().(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	default:
		return "", fmt.Errorf("unsupported key type %T", pub)
	}
}
