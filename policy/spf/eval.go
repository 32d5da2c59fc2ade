package spf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/authmilter/authmilter/resolver"
)

// maxNames is the RFC 7208 §4.6.4 limit on MX names per mx mechanism and on
// PTR names per ptr mechanism or %{p} expansion.
const maxNames = 10

// maxExplanation bounds the explanation we hand to the MTA: it ends up in a
// single SMTP reply line (RFC 5321 §4.5.3.1.5: 512 octets with the code).
const maxExplanation = 400

// state is one check_host() run including all its include/redirect
// recursion: the §4.6.4 counters are shared by the whole evaluation.
type state struct {
	res        resolver.Resolver
	env        macroEnv // domain is set per record
	maxLookups int
	maxVoids   int
	lookups    int
	voids      int
	// ptrNames caches the validated PTR names of the client for %{p}.
	ptrNames []string
	ptrDone  bool
}

// hostResult is what evaluating one domain's record produced.
type hostResult struct {
	result Result
	mech   string // matching directive as written
	err    error  // why, for none/permerror/temperror
	// exp and expDomain are the exp= domain-spec of the record that gave
	// the result and that record's domain (§6.2: redirect= replaces the
	// explanation, include: never contributes one).
	exp, expDomain string
}

// check runs check_host() for one identity after the §4.3 initial
// processing: client address normalization and domain validation.
func (c *Checker) check(ctx context.Context, identity string, ip net.IP, domain, sender, helo string) Outcome {
	domain = strings.TrimSuffix(domain, ".")
	o := Outcome{Identity: identity, Domain: domain, Sender: sender}
	local, sdom := splitSender(sender)
	if v4 := ip.To4(); v4 != nil {
		// §5/9/2: an IPv4-mapped IPv6 client is an IPv4 client.
		ip = v4
	} else if len(ip) == net.IPv6len {
		ip = append(net.IP(nil), ip...)
	} else {
		o.Result, o.Problem = None, ErrNoClientIP.Error()
		return o
	}
	if !validInitialDomain(domain) {
		// §4.3: a malformed or single-label domain gives none.
		o.Result = None
		o.Problem = fmt.Errorf("%w: %q is not a fully-qualified domain name", ErrInvalidDomain, printable(domain)).Error()
		return o
	}
	s := &state{
		res:        c.Resolver,
		maxLookups: c.MaxLookups,
		maxVoids:   c.MaxVoidLookups,
		env: macroEnv{
			sender: local + "@" + sdom, local: local, senderDomain: sdom,
			helo: helo, ip: ip, receiver: c.Receiver,
		},
	}
	if s.res == nil {
		s.res = net.DefaultResolver
	}
	if s.maxLookups <= 0 {
		s.maxLookups = 10
	}
	if s.maxVoids <= 0 {
		s.maxVoids = 2
	}
	if c.Now != nil {
		s.env.now = c.Now()
	} else {
		s.env.now = time.Now()
	}
	s.env.ptr = func() string { return s.pMacro(ctx) }

	r := s.checkHost(ctx, domain)
	o.Result, o.Mechanism = r.result, r.mech
	o.Lookups, o.VoidLookups = s.lookups, s.voids
	if r.err != nil {
		o.Problem = r.err.Error() // only none, temperror and permerror carry one
	}
	if r.result == Fail {
		o.Explanation = s.explanation(ctx, r, domain, c.DefaultExplanation)
	}
	return o
}

// checkHost evaluates the record of domain (RFC 7208 §4.4 to §4.7).
func (s *state) checkHost(ctx context.Context, domain string) hostResult {
	if err := ctx.Err(); err != nil {
		return hostResult{result: TempError, err: fmt.Errorf("%w: %w", ErrDNS, err)}
	}
	rec, res := s.lookupRecord(ctx, domain)
	if rec == nil {
		return res
	}
	for _, d := range rec.Directives {
		if err := ctx.Err(); err != nil {
			return hostResult{result: TempError, err: fmt.Errorf("%w: %w", ErrDNS, err)}
		}
		ok, err := s.match(ctx, &d, domain)
		if err != nil {
			return errResult(err)
		}
		if ok {
			// §4.6.2: the first matching mechanism's qualifier is the result.
			return hostResult{result: d.Qualifier, mech: d.Text, exp: rec.Exp, expDomain: domain}
		}
	}
	if rec.Redirect != "" {
		// §6.1: redirect applies only when no mechanism matched; it counts
		// as a DNS term, and a target without a record is a permerror.
		if err := s.countLookup(); err != nil {
			return errResult(err)
		}
		target, err := s.targetName(rec.Redirect, domain)
		if err != nil {
			return errResult(err)
		}
		if target == "" {
			return hostResult{result: PermError, err: fmt.Errorf("%w: redirect=%s is not a valid domain name", ErrInvalidDomain, rec.Redirect)}
		}
		r := s.checkHost(ctx, target)
		if r.result == None {
			return hostResult{result: PermError, err: fmt.Errorf("redirect=%s: %w", target, r.err)}
		}
		return r
	}
	// §4.7: no match and no redirect gives neutral.
	return hostResult{result: Neutral}
}

// lookupRecord finds and parses the single SPF record of domain (§4.4,
// §4.5). On failure it returns a nil Record and the result to report.
func (s *state) lookupRecord(ctx context.Context, domain string) (*Record, hostResult) {
	txts, err := s.res.LookupTXT(ctx, fqdn(domain))
	if err != nil {
		if resolver.IsNotFound(err) && ctx.Err() == nil {
			return nil, hostResult{result: None, err: fmt.Errorf("%w at %s", ErrNoRecord, domain)}
		}
		// §4.4: any other DNS error or a timeout is a temperror.
		return nil, hostResult{result: TempError, err: fmt.Errorf("%w: TXT %s: %w", ErrDNS, domain, err)}
	}
	var spf []string
	for _, t := range txts {
		if IsSPFRecord(t) {
			spf = append(spf, t)
		}
	}
	switch len(spf) {
	case 0:
		return nil, hostResult{result: None, err: fmt.Errorf("%w at %s", ErrNoRecord, domain)}
	case 1:
	default:
		return nil, hostResult{result: PermError, err: fmt.Errorf("%w at %s", ErrMultipleRecords, domain)}
	}
	rec, err := Parse(spf[0])
	if err != nil {
		return nil, hostResult{result: PermError, err: fmt.Errorf("%s: %w", domain, err)}
	}
	return rec, hostResult{}
}

// errResult turns an evaluation error into temperror (DNS trouble,
// cancellation) or permerror (everything else, §2.6.7).
func errResult(err error) hostResult {
	if errors.Is(err, ErrDNS) {
		return hostResult{result: TempError, err: err}
	}
	return hostResult{result: PermError, err: err}
}

func (s *state) countLookup() error {
	s.lookups++
	if s.lookups > s.maxLookups {
		return fmt.Errorf("%w: more than %d", ErrTooManyLookups, s.maxLookups)
	}
	return nil
}

func (s *state) countVoid() error {
	s.voids++
	if s.voids > s.maxVoids {
		return fmt.Errorf("%w: more than %d", ErrTooManyVoidLookups, s.maxVoids)
	}
	return nil
}

// dnsErr classifies a lookup error: NXDOMAIN/NODATA is a void lookup (nil
// error, void true); anything else, including cancellation, is temperror.
func (s *state) dnsErr(ctx context.Context, typ, name string, err error) (void bool, _ error) {
	if resolver.IsNotFound(err) && ctx.Err() == nil {
		return true, s.countVoid()
	}
	return false, fmt.Errorf("%w: %s %s: %w", ErrDNS, typ, name, err)
}

// network returns "ip4" or "ip6" for the client's address family (§5: A
// records for IPv4 clients, AAAA for IPv6 clients).
func (s *state) network() string {
	if len(s.env.ip) == net.IPv4len {
		return "ip4"
	}
	return "ip6"
}

// match evaluates one mechanism (RFC 7208 §5).
func (s *state) match(ctx context.Context, d *Directive, domain string) (bool, error) {
	switch d.Mechanism {
	case MechAll:
		return true, nil // §5.1
	case MechIP4:
		// §5.6: ip4 never matches an IPv6 client and vice versa.
		return len(s.env.ip) == net.IPv4len && d.Network.Contains(s.env.ip), nil
	case MechIP6:
		return len(s.env.ip) == net.IPv6len && d.Network.Contains(s.env.ip), nil
	}
	// Everything else costs a DNS term (§4.6.4), counted before the query.
	if err := s.countLookup(); err != nil {
		return false, err
	}
	target, err := s.targetName(d.DomainSpec, domain)
	if err != nil {
		return false, err
	}
	switch d.Mechanism {
	case MechInclude:
		if target == "" {
			return false, fmt.Errorf("%w: %s", ErrInvalidDomain, d.Text)
		}
		// §5.2: pass matches; fail, softfail and neutral do not;
		// temperror propagates; permerror and none are permerror.
		r := s.checkHost(ctx, target)
		switch r.result {
		case Pass:
			return true, nil
		case Fail, SoftFail, Neutral:
			return false, nil
		case TempError:
			return false, r.err
		default:
			return false, fmt.Errorf("%s: %w", d.Text, r.err)
		}
	case MechA:
		if target == "" {
			// An RFC 1035-invalid target (empty or over-long label) is
			// treated as non-existent, by analogy with §4.3 (suite cases
			// invalid-domain-*; RFC 7208 leaves the result undefined).
			return false, nil
		}
		return s.matchHost(ctx, target, d.Prefix4, d.Prefix6)
	case MechMX:
		if target == "" {
			return false, nil
		}
		return s.matchMX(ctx, target, d)
	case MechPTR:
		if target == "" {
			return false, nil
		}
		return s.matchPTR(ctx, target)
	case MechExists:
		if target == "" {
			return false, nil
		}
		// §5.7: always an A query, whatever the client's family.
		ips, err := s.res.LookupIP(ctx, "ip4", fqdn(target))
		if err != nil {
			_, err := s.dnsErr(ctx, "A", target, err)
			return false, err
		}
		return len(ips) > 0, nil
	}
	return false, fmt.Errorf("%w: unknown mechanism %q", ErrSyntax, d.Mechanism)
}

// matchHost looks up the client-family addresses of name and compares them
// with the CIDR lengths (§5.3). NXDOMAIN/NODATA is a void non-match.
func (s *state) matchHost(ctx context.Context, name string, p4, p6 int) (bool, error) {
	ips, err := s.res.LookupIP(ctx, s.network(), fqdn(name))
	if err != nil {
		_, err := s.dnsErr(ctx, s.network(), name, err)
		return false, err
	}
	return s.anyMatch(ips, p4, p6), nil
}

func (s *state) anyMatch(ips []net.IP, p4, p6 int) bool {
	for _, ip := range ips {
		if len(s.env.ip) == net.IPv4len {
			if v4 := ip.To4(); v4 != nil && v4.Mask(net.CIDRMask(p4, 32)).Equal(s.env.ip.Mask(net.CIDRMask(p4, 32))) {
				return true
			}
		} else if ip.To4() == nil && len(ip) == net.IPv6len {
			if ip.Mask(net.CIDRMask(p6, 128)).Equal(s.env.ip.Mask(net.CIDRMask(p6, 128))) {
				return true
			}
		}
	}
	return false
}

// matchMX implements §5.4 with the §4.6.4 limit: at most 10 MX names get an
// address lookup; needing an 11th is a permerror.
func (s *state) matchMX(ctx context.Context, name string, d *Directive) (bool, error) {
	mxs, err := s.res.LookupMX(ctx, fqdn(name))
	if err != nil {
		_, err := s.dnsErr(ctx, "MX", name, err)
		return false, err
	}
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Pref < mxs[j].Pref })
	var tempErr error
	n := 0
	for _, mx := range mxs {
		host := strings.TrimSuffix(mx.Host, ".")
		if host == "" {
			continue // RFC 7505 null MX: no mail host, nothing to match
		}
		if n == maxNames {
			return false, fmt.Errorf("%w: %s has more than %d", ErrTooManyMX, name, maxNames)
		}
		n++
		ips, err := s.res.LookupIP(ctx, s.network(), fqdn(host))
		if err != nil {
			if !resolver.IsNotFound(err) || ctx.Err() != nil {
				// A timeout on one exchanger may hide the match: keep
				// looking, but do not report a non-match if none matches.
				tempErr = fmt.Errorf("%w: %s %s: %w", ErrDNS, s.network(), host, err)
			}
			continue
		}
		if s.anyMatch(ips, d.Prefix4, d.Prefix6) {
			return true, nil
		}
	}
	return false, tempErr
}

// matchPTR implements §5.5: the client's PTR names (at most 10) that are
// target or a subdomain of it, and that resolve back to the client. DNS
// errors make the mechanism not match rather than fail the check.
func (s *state) matchPTR(ctx context.Context, target string) (bool, error) {
	names, err := s.res.LookupAddr(ctx, s.env.ip.String())
	if err != nil {
		if ctx.Err() != nil {
			return false, fmt.Errorf("%w: %w", ErrDNS, ctx.Err())
		}
		if resolver.IsNotFound(err) {
			return false, s.countVoid()
		}
		return false, nil
	}
	if len(names) > maxNames {
		names = names[:maxNames] // §4.6.4: ignore the rest, no error
	}
	for _, n := range names {
		n = strings.TrimSuffix(n, ".")
		if isSubdomain(n, target) && s.validates(ctx, n) {
			return true, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("%w: %w", ErrDNS, err)
	}
	return false, nil
}

// validates reports whether name has an address equal to the client's
// (forward-confirmed reverse DNS, §5.5). Errors mean "skip this name".
func (s *state) validates(ctx context.Context, name string) bool {
	if !validQueryName(name) {
		return false
	}
	ips, err := s.res.LookupIP(ctx, s.network(), fqdn(name))
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if ip.Equal(s.env.ip) {
			return true
		}
	}
	return false
}

// pMacro expands %{p} (§7.3): a validated name of the client that is the
// current domain, else a subdomain of it, else any validated name, else
// "unknown". The PTR work is done once per check and bounded by §4.6.4.
func (s *state) pMacro(ctx context.Context) string {
	if !s.ptrDone {
		s.ptrDone = true
		names, err := s.res.LookupAddr(ctx, s.env.ip.String())
		if err == nil {
			if len(names) > maxNames {
				names = names[:maxNames]
			}
			for _, n := range names {
				n = strings.TrimSuffix(n, ".")
				if s.validates(ctx, n) {
					s.ptrNames = append(s.ptrNames, n)
				}
			}
		}
	}
	domain := s.env.domain
	for _, n := range s.ptrNames {
		if strings.EqualFold(n, domain) {
			return n
		}
	}
	for _, n := range s.ptrNames {
		if isSubdomain(n, domain) {
			return n
		}
	}
	if len(s.ptrNames) > 0 {
		return s.ptrNames[0]
	}
	return "unknown"
}

// isSubdomain reports whether name equals parent or ends in "."+parent,
// case-insensitively (§5.5).
func isSubdomain(name, parent string) bool {
	name, parent = strings.ToLower(name), strings.ToLower(strings.TrimSuffix(parent, "."))
	return name == parent || strings.HasSuffix(name, "."+parent)
}

// targetName expands a domain-spec for querying (§4.8, §7.3): "" means the
// current domain; the result loses a trailing dot and, if longer than 253
// octets, labels from the left. It returns "" when the name cannot be
// queried (empty or over-long label).
func (s *state) targetName(spec, domain string) (string, error) {
	if spec == "" {
		return domain, nil
	}
	s.env.domain = domain
	name, err := expandMacros(spec, &s.env, false)
	if err != nil {
		return "", err
	}
	name = truncateName(strings.TrimSuffix(name, "."))
	if !validQueryName(name) {
		return "", nil
	}
	return name, nil
}

// truncateName removes labels from the left until name fits in 253 octets
// (§7.3 "the left side is truncated").
func truncateName(name string) string {
	for len(name) > 253 {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return ""
		}
		name = name[i+1:]
	}
	return name
}

// validQueryName reports whether name can be put in a DNS query: 1 to 253
// octets in labels of 1 to 63 octets (RFC 1035 §2.3.4). Any octet is
// allowed in a label; the domain-spec syntax was checked before expansion.
func validQueryName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	return true
}

// fqdn makes name absolute so a system resolver never applies its search
// list.
func fqdn(name string) string {
	return name + "."
}

// explanation computes the §6.2 explanation for a fail: the exp= TXT of the
// record that failed, expanded; or the default explanation when there is
// no exp=, its domain does not expand or resolve to exactly one TXT record,
// or that record is not valid explain-string.
func (s *state) explanation(ctx context.Context, r hostResult, domain, def string) string {
	expDomain := r.expDomain
	if expDomain == "" {
		expDomain = domain
	}
	if r.exp != "" {
		if text, ok := s.expText(ctx, r.exp, expDomain); ok {
			return text
		}
	}
	s.env.domain = expDomain
	if text, err := expandMacros(def, &s.env, true); err == nil {
		return sanitizeExplanation(text)
	}
	return sanitizeExplanation(def)
}

func (s *state) expText(ctx context.Context, spec, domain string) (string, bool) {
	name, err := s.targetName(spec, domain)
	if err != nil || name == "" {
		return "", false
	}
	// The exp= lookup counts against no limit (§4.6.4, suite "exp-void").
	txts, err := s.res.LookupTXT(ctx, fqdn(name))
	if err != nil || len(txts) != 1 {
		return "", false
	}
	// §6.2: a syntax error in the explanation string (including non-ASCII,
	// §6.2/5) means proceeding as if there were no exp=.
	s.env.domain = domain
	text, err := expandMacros(txts[0], &s.env, true)
	if err != nil {
		return "", false
	}
	// An empty explanation tells the sender nothing; use the default.
	text = sanitizeExplanation(text)
	return text, text != ""
}

// sanitizeExplanation keeps printable ASCII only (so expanded macro values
// cannot inject CR/LF into an SMTP reply) and bounds the length.
func sanitizeExplanation(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxExplanation; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		}
	}
	return b.String()
}
