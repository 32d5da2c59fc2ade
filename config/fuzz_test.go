package config

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/authmilter/authmilter/keystore"
)

// FuzzParse checks that Parse never panics, that every error it reports is
// either whole-file (no line) or on a line that exists, and that what it
// accepts is valid by the same checks it applies. Seeds are in
// testdata/fuzz/FuzzParse/.
func FuzzParse(f *testing.F) {
	f.Add("")
	f.Add("listen = \"unix:/run/a.sock\"\nsocket_mode = \"0600\"\n[dns]\nnameservers = [\"::1\", \"127.0.0.1:53\"]\n")
	f.Add("[[log]]\nlevel = 1\n[verify]\nmax_signatures = 0\nx.y = { z = [1, {a = 'b'}] }\n")
	f.Add("[[signing.key]]\nname = \"k\"\ndomain = \"%\"\nselector = \"s\"\nprivate_key = \"/k\"\n[[signing.rule]]\nfrom = \"*@example.com\"\nkeys = [\"k\"]\n[signing]\nheaders = [\"From\"]\nexpire = \"1h\"\n")
	f.Add("internal_networks = [\"10.0.0.0/8\", \"::ffff:10.0.0.1\"]\n[dmarc]\ntrusted_relays = [\"192.0.2.0/24\"]\ntrusted_forwarders = [\"192.0.2.1\"]\nreject_text = \"no\"\nquarantine_header = \"X-Q\"\n")
	f.Fuzz(func(t *testing.T, src string) {
		c, err := parse("f", strings.NewReader(src), testDefaults())
		if err != nil {
			if c != nil {
				t.Fatalf("config with error: %v", err)
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v is not a non-empty Errors", err, err)
			}
			nlines := strings.Count(src, "\n") + 1
			for _, e := range errs {
				if e.Err == nil || e.File != "f" || e.Msg == "" {
					t.Errorf("incomplete error %+v", e)
				}
				if e.Line < 0 || e.Line > nlines {
					t.Errorf("error on line %d of %d: %v", e.Line, nlines, e)
				}
				if e.Line == 0 && !errors.Is(e, ErrRead) && !errors.Is(e, ErrSyntax) {
					t.Errorf("error without a line: %v", e)
				}
			}
			return
		}
		// Accepted: the values must pass the checks again.
		if n, a := c.ListenAddr(); n == "" || a == "" {
			t.Errorf("accepted listen %q", c.Listen)
		}
		if checkAuthservID(c.AuthservID) != nil {
			t.Errorf("accepted authserv_id %q", c.AuthservID)
		}
		for _, ns := range c.DNS.Nameservers {
			if norm, err := parseNameserver(ns); err != nil || norm != ns {
				t.Errorf("nameserver %q is not normalised: %q, %v", ns, norm, err)
			}
		}
		checkPrefixes(t, "internal_networks", c.InternalNetworks)
		checkPrefixes(t, "dmarc.trusted_forwarders", c.DMARC.TrustedForwarders)
		checkPrefixes(t, "dmarc.trusted_relays", c.DMARC.TrustedRelays)
		for _, r := range c.DMARC.TrustedRelays {
			for _, f := range c.DMARC.TrustedForwarders {
				if r.Overlaps(f) {
					t.Errorf("accepted relay %v overlapping forwarder %v", r, f)
				}
			}
		}
		dm := c.DMARC
		for _, e := range []struct{ v, a, b string }{
			{dm.Quarantine, "hold", "header"},
			{dm.Mode, "rfc9989", "rfc7489"},
			{dm.OnDNSError, "accept", "tempfail"},
			{dm.MailingLists, "enforce", "exempt"},
			{dm.MultipleAuthors, "reject", "strictest"},
			{dm.MalformedFrom, "reject", "accept"},
			{dm.RelayWithoutReceived, "tempfail", "spf-none"},
		} {
			if e.v != e.a && e.v != e.b {
				t.Errorf("accepted dmarc value %q", e.v)
			}
		}
		if checkReplyText(dm.RejectText) != nil || strings.ContainsAny(dm.RejectText, "\r\n%") {
			t.Errorf("accepted reject_text %q", dm.RejectText)
		}
		if checkFieldName(dm.QuarantineHeader) != nil || strings.ContainsAny(dm.QuarantineHeader, ": \r\n") {
			t.Errorf("accepted quarantine_header %q", dm.QuarantineHeader)
		}
		if p := dm.PublicSuffixList; p != "" && (!strings.HasPrefix(p, "/") || checkSuffixListPath(p) != nil) {
			t.Errorf("accepted public_suffix_list %q", p)
		}
		checkSigning(t, &c.Signing)
		// An accepted metrics address is one net.Listen("tcp", ...) takes
		// as is: an explicit host and a numeric port.
		if l := c.Metrics.Listen; l != "" {
			if host, port, err := net.SplitHostPort(l); err != nil || host == "" || port == "0" || strings.Trim(port, "0123456789") != "" {
				t.Errorf("accepted metrics.listen %q", l)
			}
		}
		if c.SocketMode > 0o777 || c.DNS.Timeout.Duration <= 0 || c.Milter.IOTimeout.Duration <= 0 ||
			c.Verify.MaxSignatures < 1 || c.Verify.MinRSABits < 1024 || c.Verify.MaxHeaderBytes < 8192 {
			t.Errorf("accepted out-of-range values: %+v", c)
		}
	})
}

// checkSigning asserts what Parse promises about an accepted [signing]:
// every value passes the keystore's syntax checks, so Build can only fail
// on files.
func checkSigning(t *testing.T, sc *SigningConfig) {
	t.Helper()
	names := map[string]bool{}
	for _, k := range sc.Keys {
		if keystore.CheckKeyName(k.Name) != nil || keystore.CheckDomain(k.Domain) != nil ||
			keystore.CheckSelector(k.Selector) != nil || keystore.CheckKeyPath(k.PrivateKey) != nil || names[k.Name] || k.Line < 1 {
			t.Errorf("accepted signing key %+v", k)
		}
		names[k.Name] = true
	}
	for _, r := range sc.Rules {
		if keystore.CheckPattern(r.From) != nil || len(r.Keys) == 0 || r.Line < 1 {
			t.Errorf("accepted signing rule %+v", r)
		}
		for _, k := range r.Keys {
			if keystore.CheckKeyName(k) != nil || (sc.KeyTable == "" && !names[k]) {
				t.Errorf("accepted rule key %q in %+v", k, r)
			}
		}
	}
	if keystore.CheckTablePath(sc.SigningTable) != nil || keystore.CheckTablePath(sc.KeyTable) != nil ||
		checkCanonicalization(sc.Canonicalization) != nil {
		t.Errorf("accepted signing values %+v", sc)
	}
	if sc.Headers != nil {
		from := false
		for _, h := range sc.Headers {
			from = from || strings.EqualFold(h, "from")
		}
		if !from {
			t.Errorf("accepted headers without From: %q", sc.Headers)
		}
	}
	if e := sc.Expire.Duration; e != 0 && (e < time.Hour || e > 8760*time.Hour) {
		t.Errorf("accepted expire %v", e)
	}
	for _, e := range []struct{ v, a, b string }{
		{sc.Profile, "default", "minimal"}, {sc.OnKeyMissing, "tempfail", "accept"}, {sc.OnError, "tempfail", "accept"},
	} {
		if e.v != e.a && e.v != e.b {
			t.Errorf("accepted signing value %q", e.v)
		}
	}
}

// checkPrefixes asserts what parsePrefix promises about accepted prefixes:
// valid, canonical (no host bits, no zone, IPv4 not mapped), not /0, and
// unchanged when parsed again from their string form.
func checkPrefixes(t *testing.T, key string, ps []netip.Prefix) {
	t.Helper()
	for _, p := range ps {
		a := p.Addr()
		if !p.IsValid() || p != p.Masked() || p.Bits() == 0 || a.Zone() != "" || (a.Is4In6() && p.Bits() >= 96) {
			t.Errorf("%s: accepted %v", key, p)
		}
		if again, err := parsePrefix(p.String()); err != nil || again != p {
			t.Errorf("%s: %v does not round-trip: %v, %v", key, p, again, err)
		}
	}
}

// FuzzKeyLines checks the line scanner alone: it never panics or loops,
// and on input the toml package accepts it knows every decoded path.
func FuzzKeyLines(f *testing.F) {
	f.Add("a = 1\n[t]\nb = [\n1,\n{c = 2}]\n[[u]]\nd = '''\nx'''\n")
	f.Fuzz(func(t *testing.T, src string) {
		lines := keyLines(src)
		var doc map[string]any
		if _, err := toml.Decode(src, &doc); err != nil {
			return
		}
		for _, p := range documentPaths("", doc) {
			if _, ok := lines[p]; !ok {
				t.Errorf("path %q has no line", p)
			}
		}
	})
}

// FuzzParsePrefix checks the network-list parser alone: it never panics,
// what it accepts is canonical (see checkPrefixes), and it accepts every
// canonical prefix netip.ParsePrefix accepts, with the same value. Seeds
// are in testdata/fuzz/FuzzParsePrefix/.
func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"192.0.2.0/24", "192.0.2.1", "2001:db8::/32", "::ffff:192.0.2.0/120", "fe80::1%eth0", "0.0.0.0/0", "10.0.0.0/08", "1.2.3.4/33"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePrefix(s)
		if err != nil {
			if p.IsValid() {
				t.Errorf("parsePrefix(%q) = %v with error %v", s, p, err)
			}
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Errorf("error %q does not quote the input", err)
			}
		} else {
			checkPrefixes(t, "parsePrefix", []netip.Prefix{p})
		}
		if want, err := netip.ParsePrefix(s); err == nil && want == want.Masked() && want.Bits() > 0 &&
			!(want.Addr().Is4In6() && want.Bits() >= 96) {
			if p != want {
				t.Errorf("parsePrefix(%q) = %v, %v; netip.ParsePrefix gives %v", s, p, err, want)
			}
		}
	})
}
