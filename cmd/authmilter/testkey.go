package main

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"time"

	"github.com/authmilter/authmilter/keystore"
	"github.com/authmilter/authmilter/policy/dkim"
	"github.com/authmilter/authmilter/resolver"
)

// cmdTestkey checks every key of the signing configuration against DNS:
// is the record there, does it hold the public half of our private key,
// what type and size, and was the answer DNSSEC-validated (the AD bit from
// a validating resolver). The exit status is 1 when any key is missing,
// unreadable or does not match; "key not secure" is only a warning, since
// most zones are unsigned.
func cmdTestkey(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flagSet("testkey", stderr)
	path := fs.String("c", "", "configuration `FILE`")
	domain := fs.String("d", "", "test keys whose domain is \"%\" as this `DOMAIN`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: authmilter testkey -c FILE [-d DOMAIN]")
		return 2
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		// Unreadable or mismatched key files are configuration errors,
		// reported with file:line.
		printConfigError(stderr, err)
		return 1
	}
	set, errs := keystore.Build(cfg.KeySpec())
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		return 1
	}
	res, err := newResolver(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "authmilter testkey:", err)
		return 1
	}
	keys := set.Keys()
	if len(keys) == 0 {
		fmt.Fprintln(stderr, "authmilter testkey: no signing keys configured")
		return 1
	}
	failed := false
	for _, k := range keys {
		d := k.Domain
		if d == "%" {
			if *domain == "" {
				fmt.Fprintf(stdout, "%s: domain %% (the From domain): skipped; test it with -d DOMAIN\n", k.Name)
				continue
			}
			d = *domain
		}
		ok := testKey(stdout, res, k, d)
		failed = failed || !ok
	}
	if failed {
		return 1
	}
	return 0
}

// testKey prints one line about one key and reports whether it is usable.
func testKey(w io.Writer, res resolver.Resolver, k *keystore.Key, domain string) bool {
	name := k.Selector + "._domainkey." + domain
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var txts []string
	var authentic bool
	var err error
	if a, ok := res.(resolver.Authenticator); ok {
		txts, authentic, err = a.LookupTXTAuthentic(ctx, name)
	} else {
		txts, err = res.LookupTXT(ctx, name)
	}
	prefix := fmt.Sprintf("%s (%s, %d bits): %s:", k.Name, k.Algorithm, k.Bits, name)
	switch {
	case resolver.IsNotFound(err):
		fmt.Fprintf(w, "%s record not found\n", prefix)
		return false
	case err != nil:
		fmt.Fprintf(w, "%s lookup failed: %v\n", prefix, err)
		return false
	case len(txts) != 1:
		fmt.Fprintf(w, "%s %d TXT records; exactly one is needed (RFC 6376 §3.6.2.2)\n", prefix, len(txts))
		return false
	}
	rec, err := dkim.ParseKeyRecord(txts[0])
	if err != nil {
		fmt.Fprintf(w, "%s record unusable: %v\n", prefix, err)
		return false
	}
	pub, ok := k.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(rec.Public) {
		fmt.Fprintf(w, "%s record found, public key does NOT match the private key (record: %s, %d bits)\n", prefix, rec.Type, rec.Bits)
		return false
	}
	secure := "key not secure (no DNSSEC validation; a warning, not a failure)"
	if authentic {
		secure = "key secure"
	}
	extra := ""
	if rec.Testing {
		extra = "; t=y (testing): verifiers may ignore failures"
	}
	if k.Weak() {
		extra += "; RSA under 2048 bits is weak"
	}
	fmt.Fprintf(w, "%s record found, public key matches; %s%s\n", prefix, secure, extra)
	return true
}
