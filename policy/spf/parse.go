package spf

import (
	"fmt"
	"net"
	"strings"
)

// Mechanism names, RFC 7208 §5.
const (
	MechAll     = "all"
	MechInclude = "include"
	MechA       = "a"
	MechMX      = "mx"
	MechPTR     = "ptr"
	MechIP4     = "ip4"
	MechIP6     = "ip6"
	MechExists  = "exists"
)

// Directive is one qualifier+mechanism term of a record (RFC 7208 §4.6.1).
type Directive struct {
	// Qualifier is the result the directive yields when it matches: Pass
	// ("+", the default), Fail ("-"), SoftFail ("~") or Neutral ("?").
	Qualifier Result
	// Mechanism is the lower-cased mechanism name (MechAll, ...).
	Mechanism string
	// DomainSpec is the unexpanded domain-spec (RFC 7208 §7.1) for include,
	// a, mx, ptr and exists; "" means the current domain (a, mx, ptr only).
	DomainSpec string
	// Network is the ip4/ip6 network, nil for other mechanisms.
	Network *net.IPNet
	// Prefix4 and Prefix6 are the dual-cidr-length of a and mx (RFC 7208
	// §5.6): 32 and 128 when absent.
	Prefix4, Prefix6 int
	// Text is the term exactly as written, for Received-SPF and logs.
	Text string
}

// Modifier is an unknown name=value modifier, kept for diagnostics only:
// RFC 7208 §6 says unrecognized modifiers MUST be ignored.
type Modifier struct {
	Name, Value string
}

// Record is a parsed, syntax-checked SPF record (RFC 7208 §4.6, §12). It
// holds no expanded macros, so one Record may be cached and evaluated for
// any client.
type Record struct {
	Directives []Directive
	// Redirect and Exp are the unexpanded domain-specs of the redirect= and
	// exp= modifiers, "" when absent (an empty value is a syntax error).
	Redirect, Exp string
	Unknown       []Modifier
}

// DNSTerms counts the terms that cost a DNS lookup under RFC 7208 §4.6.4
// (include, a, mx, ptr, exists, redirect). It is an upper bound on what
// evaluating the record alone can spend, useful to lint records.
func (r *Record) DNSTerms() int {
	n := 0
	for _, d := range r.Directives {
		switch d.Mechanism {
		case MechInclude, MechA, MechMX, MechPTR, MechExists:
			n++
		}
	}
	if r.Redirect != "" {
		n++
	}
	return n
}

// IsSPFRecord reports whether a TXT string is an SPF version 1 record:
// "v=spf1" (case-insensitive) followed by a space or the end of the string
// (RFC 7208 §4.5). Other TXT records are none of our business.
func IsSPFRecord(txt string) bool {
	if len(txt) < 6 || !strings.EqualFold(txt[:6], "v=spf1") {
		return false
	}
	return len(txt) == 6 || txt[6] == ' '
}

// Parse parses an SPF record. Any syntax error anywhere in the record is
// reported, even in terms that evaluation would never reach (RFC 7208 §4.6:
// "syntax errors anywhere in the record MUST be detected"). Errors wrap
// ErrSyntax or ErrMacro.
func Parse(record string) (*Record, error) {
	if !IsSPFRecord(record) {
		return nil, fmt.Errorf("%w: record does not start with v=spf1", ErrSyntax)
	}
	rec := &Record{}
	var haveRedirect, haveExp bool
	// §4.6.1: terms are separated by one or more SP, and only SP; the
	// record may end with spaces (§12 "record = version terms *SP").
	for _, term := range strings.Split(record[6:], " ") {
		if term == "" {
			continue
		}
		for i := 0; i < len(term); i++ {
			// §3.1 / §12: terms are made of visible 7-bit ASCII only; a
			// control or 8-bit byte cannot be part of any term.
			if term[i] < 0x21 || term[i] > 0x7e {
				return nil, fmt.Errorf("%w: invalid character 0x%02x in term %q", ErrSyntax, term[i], printable(term))
			}
		}
		if name, value, ok := splitModifier(term); ok {
			switch strings.ToLower(name) {
			case "redirect":
				// §6: redirect and exp MUST NOT appear more than once.
				if haveRedirect {
					return nil, fmt.Errorf("%w: redirect= appears twice", ErrSyntax)
				}
				haveRedirect = true
				if err := checkDomainSpec(value); err != nil {
					return nil, fmt.Errorf("redirect=: %w", err)
				}
				rec.Redirect = value
			case "exp":
				if haveExp {
					return nil, fmt.Errorf("%w: exp= appears twice", ErrSyntax)
				}
				haveExp = true
				// An empty exp= is a syntax error, not an ignored exp
				// (RFC 7208 erratum 5227 on §6.2; suite "exp-empty-domain").
				if err := checkDomainSpec(value); err != nil {
					return nil, fmt.Errorf("exp=: %w", err)
				}
				rec.Exp = value
			default:
				// §6: unknown-modifier = name "=" macro-string; the value
				// must still be valid macro syntax (Appendix A).
				if err := checkMacroString(value, false); err != nil {
					return nil, fmt.Errorf("modifier %s=: %w", name, err)
				}
				rec.Unknown = append(rec.Unknown, Modifier{Name: name, Value: value})
			}
			continue
		}
		d, err := parseDirective(term)
		if err != nil {
			return nil, err
		}
		rec.Directives = append(rec.Directives, d)
	}
	return rec, nil
}

// splitModifier recognizes `name "=" value` with name = ALPHA *( ALPHA /
// DIGIT / "-" / "_" / "." ) (RFC 7208 §12). The "=" must come right after
// the name, before any ":" or "/", so "moo.cow/x=y" is a (bad) mechanism.
func splitModifier(term string) (name, value string, ok bool) {
	if term == "" || !isAlpha(term[0]) {
		return "", "", false
	}
	i := 1
	for i < len(term) && (isAlpha(term[i]) || isDigit(term[i]) || term[i] == '-' || term[i] == '_' || term[i] == '.') {
		i++
	}
	if i < len(term) && term[i] == '=' {
		return term[:i], term[i+1:], true
	}
	return "", "", false
}

// parseDirective parses `[ qualifier ] mechanism` (RFC 7208 §4.6.1, §5).
func parseDirective(term string) (Directive, error) {
	d := Directive{Qualifier: Pass, Text: term, Prefix4: 32, Prefix6: 128}
	rest := term
	switch rest[0] {
	case '+':
		d.Qualifier = Pass
		rest = rest[1:]
	case '-':
		d.Qualifier = Fail
		rest = rest[1:]
	case '~':
		d.Qualifier = SoftFail
		rest = rest[1:]
	case '?':
		d.Qualifier = Neutral
		rest = rest[1:]
	}
	n := 0
	for n < len(rest) && (isAlpha(rest[n]) || isDigit(rest[n])) {
		n++
	}
	d.Mechanism = strings.ToLower(rest[:n])
	arg := rest[n:]
	bad := func(why string) (Directive, error) {
		return Directive{}, fmt.Errorf("%w: %s in %q", ErrSyntax, why, term)
	}
	switch d.Mechanism {
	case MechAll:
		// §5.1: all = "all", with no argument or CIDR.
		if arg != "" {
			return bad("all takes no argument")
		}
	case MechInclude, MechExists:
		// §5.2, §5.7: a mandatory domain-spec and no CIDR length. A
		// trailing "/24" makes the domain-end invalid, caught below.
		if !strings.HasPrefix(arg, ":") {
			return bad(d.Mechanism + " needs :domain")
		}
		d.DomainSpec = arg[1:]
		if err := checkDomainSpec(d.DomainSpec); err != nil {
			return Directive{}, fmt.Errorf("%s: %w", printable(term), err)
		}
	case MechPTR:
		// §5.5: ptr [ ":" domain-spec ], no CIDR.
		if arg != "" {
			if arg[0] != ':' {
				return bad("ptr takes no CIDR length")
			}
			d.DomainSpec = arg[1:]
			if err := checkDomainSpec(d.DomainSpec); err != nil {
				return Directive{}, fmt.Errorf("%s: %w", printable(term), err)
			}
		}
	case MechA, MechMX:
		// §5.3, §5.4: [ ":" domain-spec ] [ dual-cidr-length ]. The CIDR
		// suffix is taken from the end, since "/" may occur inside a
		// domain-spec ("a:foo:bar/baz.example.com").
		cidr := arg
		if strings.HasPrefix(arg, ":") {
			var spec string
			spec, cidr = splitDualCIDR(arg[1:])
			if err := checkDomainSpec(spec); err != nil {
				return Directive{}, fmt.Errorf("%s: %w", printable(term), err)
			}
			d.DomainSpec = spec
		}
		if cidr != "" {
			p4, p6, ok := parseDualCIDR(cidr)
			if !ok {
				return bad("invalid CIDR length")
			}
			d.Prefix4, d.Prefix6 = p4, p6
		}
	case MechIP4:
		// §5.6: ip4 ":" ip4-network [ ip4-cidr-length ], strictly dotted
		// quad; omitted octets are not allowed (§5.6/4).
		if !strings.HasPrefix(arg, ":") {
			return bad("ip4 needs :address")
		}
		addr, plen := arg[1:], 32
		if i := strings.IndexByte(addr, '/'); i >= 0 {
			var ok bool
			if plen, ok = parseCIDRLen(addr[i+1:], 32); !ok {
				return bad("invalid ip4 CIDR length")
			}
			addr = addr[:i]
		}
		ip := parseIPv4Strict(addr)
		if ip == nil {
			return bad("invalid ip4 address")
		}
		d.Network = &net.IPNet{IP: ip.Mask(net.CIDRMask(plen, 32)), Mask: net.CIDRMask(plen, 32)}
	case MechIP6:
		// §5.6: ip6 ":" ip6-network [ ip6-cidr-length ] (RFC 4291 §2.2).
		if !strings.HasPrefix(arg, ":") {
			return bad("ip6 needs :address")
		}
		addr, plen := arg[1:], 128
		if i := strings.IndexByte(addr, '/'); i >= 0 {
			var ok bool
			if plen, ok = parseCIDRLen(addr[i+1:], 128); !ok {
				return bad("invalid ip6 CIDR length")
			}
			addr = addr[:i]
		}
		ip := net.ParseIP(addr)
		if ip == nil || !strings.Contains(addr, ":") {
			return bad("invalid ip6 address")
		}
		ip = ip.To16()
		d.Network = &net.IPNet{IP: ip.Mask(net.CIDRMask(plen, 128)), Mask: net.CIDRMask(plen, 128)}
	default:
		// §4.6.1 / §5: unknown mechanisms, including a misspelt modifier
		// such as "redirect:x", are a permerror.
		return bad("unknown mechanism")
	}
	return d, nil
}

// splitDualCIDR splits "domain/24//64" into the domain-spec and the
// trailing dual-cidr-length, which is recognized only if it is all digits.
func splitDualCIDR(s string) (spec, cidr string) {
	end := len(s)
	// Optional "//digits" at the end.
	if i := trailingDigits(s, end); i < end && i >= 2 && s[i-1] == '/' && s[i-2] == '/' {
		end = i - 2
	}
	// Optional "/digits" before that.
	if i := trailingDigits(s, end); i < end && i >= 1 && s[i-1] == '/' && (i < 2 || s[i-2] != '/') {
		end = i - 1
	}
	return s[:end], s[end:]
}

func trailingDigits(s string, end int) int {
	i := end
	for i > 0 && isDigit(s[i-1]) {
		i--
	}
	return i
}

// parseDualCIDR parses dual-cidr-length = [ ip4-cidr-length ] [ "/"
// ip6-cidr-length ] (RFC 7208 §5.6).
func parseDualCIDR(s string) (p4, p6 int, ok bool) {
	p4, p6 = 32, 128
	if !strings.HasPrefix(s, "/") {
		return 0, 0, false
	}
	if strings.HasPrefix(s, "//") {
		p6, ok = parseCIDRLen(s[2:], 128)
		return p4, p6, ok
	}
	s = s[1:]
	v4 := s
	if i := strings.Index(s, "//"); i >= 0 {
		v4 = s[:i]
		if p6, ok = parseCIDRLen(s[i+2:], 128); !ok {
			return 0, 0, false
		}
	}
	if p4, ok = parseCIDRLen(v4, 32); !ok {
		return 0, 0, false
	}
	return p4, p6, true
}

// parseCIDRLen parses a CIDR length without leading zeros (RFC 7208 §12:
// ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT), likewise for ip6) and not
// above max (§5.6/2: invalid CIDR lengths are a syntax error).
func parseCIDRLen(s string, max int) (int, bool) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	if n > max {
		return 0, false
	}
	return n, true
}

// parseIPv4Strict accepts exactly four qnums without leading zeros (RFC
// 7208 §12 ip4-network).
func parseIPv4Strict(s string) net.IP {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return nil
	}
	var b [4]byte
	for i, p := range parts {
		n, ok := parseCIDRLen(p, 255) // same digit rules as a qnum
		if !ok {
			return nil
		}
		b[i] = byte(n)
	}
	return net.IPv4(b[0], b[1], b[2], b[3]).To4()
}

// checkDomainSpec validates domain-spec = macro-string domain-end, with
// domain-end = ( "." toplabel [ "." ] ) / macro-expand (RFC 7208 §7.1). It
// is checked before expansion: §7.1 domain-spec syntax does not apply to
// expanded text.
func checkDomainSpec(spec string) error {
	if spec == "" {
		return fmt.Errorf("%w: empty domain-spec", ErrSyntax)
	}
	if err := checkMacroString(spec, false); err != nil {
		return err
	}
	// Find where the last macro-expand ends; what follows is literal.
	lastMacroEnd := -1
	for i := 0; i < len(spec); i++ {
		if spec[i] != '%' {
			continue
		}
		if spec[i+1] == '{' {
			j := strings.IndexByte(spec[i:], '}')
			i += j
		} else {
			i++
		}
		lastMacroEnd = i + 1
	}
	if lastMacroEnd == len(spec) {
		return nil // domain-end = macro-expand
	}
	tail := spec
	if lastMacroEnd > 0 {
		tail = spec[lastMacroEnd:]
	}
	tail = strings.TrimSuffix(tail, ".")
	dot := strings.LastIndexByte(tail, '.')
	if dot < 0 {
		return fmt.Errorf("%w: domain-spec %q must end in a dot and a top label", ErrSyntax, spec)
	}
	if !isTopLabel(tail[dot+1:]) {
		return fmt.Errorf("%w: invalid top label %q in domain-spec %q", ErrSyntax, tail[dot+1:], spec)
	}
	return nil
}

// isTopLabel implements toplabel = ( *alphanum ALPHA *alphanum ) / (
// 1*alphanum "-" *( alphanum / "-" ) alphanum ) (RFC 7208 §7.1): never all
// numeric (a mistyped IP address), never starting or ending with a dash.
func isTopLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	alpha, dash := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isAlpha(c):
			alpha = true
		case isDigit(c):
		case c == '-':
			dash = true
		default:
			return false
		}
	}
	return alpha || dash
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// printable returns s with bytes outside visible ASCII escaped, for error
// messages that may end up in logs and headers.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\x%02x", c)
		}
	}
	return b.String()
}
