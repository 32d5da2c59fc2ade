package dmarc

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// PSL answers public suffix questions for RFC 7489 §3.2 (Organizational
// Domain = public suffix + one label). Domains are lowercase A-labels
// without a trailing dot. golang.org/x/net/publicsuffix.PublicSuffix has
// this signature.
type PSL interface {
	PublicSuffix(domain string) (suffix string, icann bool)
}

// builtinPSL is the list compiled into golang.org/x/net/publicsuffix.
var builtinPSL PSL = xnetPSL{}

// xnetPSL adapts publicsuffix.PublicSuffix (publicsuffix.List's method
// drops the icann flag).
type xnetPSL struct{}

func (xnetPSL) PublicSuffix(domain string) (string, bool) { return publicsuffix.PublicSuffix(domain) }

// BuiltinPSL returns the Public Suffix List compiled into
// golang.org/x/net/publicsuffix (its age is that of the module version).
func BuiltinPSL() PSL { return builtinPSL }

type pslRule struct {
	icann bool
}

// fileList is a PSL loaded from a public_suffix_list.dat file.
type fileList struct {
	rules      map[string]pslRule // "com", "co.uk"
	wildcards  map[string]pslRule // "ck" for "*.ck"
	exceptions map[string]pslRule // "www.ck" for "!www.ck"
}

// LoadPSL reads the public_suffix_list.dat format
// (https://github.com/publicsuffix/list/wiki/Format): one rule per line,
// "//" comments, "*." wildcards, "!" exceptions, and the ICANN/PRIVATE
// section markers. Both sections are loaded (DMARC organizational domains
// respect private registries such as blogspot.com); the icann result tells
// them apart. Unicode rules are stored as A-labels.
func LoadPSL(r io.Reader) (PSL, error) {
	l := &fileList{rules: map[string]pslRule{}, wildcards: map[string]pslRule{}, exceptions: map[string]pslRule{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	icann := false
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(s, "//") {
			switch {
			case strings.Contains(s, "===BEGIN ICANN DOMAINS==="):
				icann = true
			case strings.Contains(s, "===END ICANN DOMAINS==="):
				icann = false
			}
			continue
		}
		if s == "" {
			continue
		}
		if i := strings.IndexAny(s, " \t"); i >= 0 {
			s = s[:i]
		}
		kind := l.rules
		switch {
		case strings.HasPrefix(s, "!"):
			kind, s = l.exceptions, s[1:]
		case strings.HasPrefix(s, "*."):
			kind, s = l.wildcards, s[2:]
		}
		a, err := toASCII(s)
		if err != nil || a == "" || strings.Contains(a, "*") {
			return nil, fmt.Errorf("%w: line %d: invalid rule %q", ErrPSL, line, truncate(sc.Text()))
		}
		kind[a] = pslRule{icann: icann}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPSL, err)
	}
	if len(l.rules)+len(l.wildcards) == 0 {
		return nil, fmt.Errorf("%w: no rules", ErrPSL)
	}
	return l, nil
}

// PublicSuffix implements PSL with the list's algorithm: an exception rule
// wins, otherwise the matching rule with the most labels, otherwise the
// implicit "*" rule (the last label, icann false).
func (l *fileList) PublicSuffix(domain string) (string, bool) {
	d := domain
	for {
		parent := ""
		if i := strings.IndexByte(d, '.'); i >= 0 {
			parent = d[i+1:]
		}
		if r, ok := l.exceptions[d]; ok && parent != "" {
			return parent, r.icann
		}
		if r, ok := l.rules[d]; ok {
			return d, r.icann
		}
		if r, ok := l.wildcards[parent]; ok && parent != "" {
			return d, r.icann
		}
		if parent == "" {
			return d, false
		}
		d = parent
	}
}

// toASCII converts a name label by label to A-labels, lowercase. It does
// not apply IDNA validity rules: PSL rules and DNS names are compared as
// the DNS compares them.
func toASCII(s string) (string, error) {
	labels := strings.Split(strings.ToLower(s), ".")
	for i, lb := range labels {
		if isASCII(lb) {
			continue
		}
		a, err := idna.Punycode.ToASCII(lb)
		if err != nil {
			return "", err
		}
		labels[i] = a
	}
	return strings.Join(labels, "."), nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// RegistrableDomain returns the public suffix of domain plus one label
// (RFC 7489 §3.2 steps 1-4), or "" when domain is itself a public suffix
// or not a valid name. domain must be lowercase A-labels.
func RegistrableDomain(psl PSL, domain string) string {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	if !validDomain(d) {
		return ""
	}
	suffix, _ := psl.PublicSuffix(d)
	if suffix == d || !strings.HasSuffix(d, "."+suffix) {
		return ""
	}
	rest := d[:len(d)-len(suffix)-1]
	if i := strings.LastIndexByte(rest, '.'); i >= 0 {
		rest = rest[i+1:]
	}
	return rest + "." + suffix
}
