// Package spf evaluates Sender Policy Framework records, RFC 7208.
//
// It implements check_host() (§4) with every mechanism and modifier,
// macros (§7) including the validated %{p} name and the exp=-only c, r and t
// letters, explanations (§6.2), the processing limits of §4.6.4 (10 DNS
// terms, 10 MX and 10 PTR names per term, 2 void lookups) and the initial
// processing rules of §4.3. It is held to the complete openspf/pyspf RFC 7208
// test suite (testdata/rfc7208-tests.yml, run by spf_suite_test.go).
//
// The package does no I/O except through the injected resolver.Resolver,
// and never blocks longer than its context allows: callers should give the
// context a deadline (RFC 7208 §4.6.4 asks for at least 20 seconds per
// check) and a cancelled context yields temperror.
package spf

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/authmilter/authmilter/resolver"
)

// Result is an SPF result (RFC 7208 §2.6). The values are the tokens used in
// Received-SPF (§9.1) and Authentication-Results (RFC 8601 §2.7.2) headers.
type Result string

// The seven SPF results, RFC 7208 §2.6.
const (
	None      Result = "none"
	Neutral   Result = "neutral"
	Pass      Result = "pass"
	Fail      Result = "fail"
	SoftFail  Result = "softfail"
	TempError Result = "temperror"
	PermError Result = "permerror"
)

// Errors reported in Outcome.Problem. They are wrapped with details; use
// errors.Is on the errors returned by Parse.
var (
	// ErrSyntax: the record is not valid SPF syntax (permerror, §4.6).
	ErrSyntax = errors.New("spf: record syntax error")
	// ErrMacro: a macro-string is malformed (permerror, §7.1).
	ErrMacro = errors.New("spf: macro syntax error")
	// ErrMultipleRecords: more than one v=spf1 record (permerror, §4.5).
	ErrMultipleRecords = errors.New("spf: multiple SPF records")
	// ErrNoRecord: no SPF record; a permerror when include: or redirect=
	// points at it (§5.2, §6.1), a none for the initial domain (§4.5).
	ErrNoRecord = errors.New("spf: no SPF record")
	// ErrTooManyLookups: more than MaxLookups DNS terms (permerror, §4.6.4).
	ErrTooManyLookups = errors.New("spf: too many DNS lookups")
	// ErrTooManyVoidLookups: more than MaxVoidLookups lookups answered
	// NXDOMAIN or no data (permerror, §4.6.4).
	ErrTooManyVoidLookups = errors.New("spf: too many void DNS lookups")
	// ErrTooManyMX: an mx mechanism needed more than 10 address lookups
	// (permerror, §4.6.4).
	ErrTooManyMX = errors.New("spf: too many MX names")
	// ErrDNS: a DNS lookup failed temporarily or the check was cancelled
	// (temperror, §2.6.6, §4.4).
	ErrDNS = errors.New("spf: DNS lookup failed")
	// ErrInvalidDomain: the checked domain is not a usable domain name
	// (none, §4.3), or an include:/redirect= target is not (permerror).
	ErrInvalidDomain = errors.New("spf: invalid domain name")
	// ErrNoClientIP: the caller gave no client address.
	ErrNoClientIP = errors.New("spf: no client IP address")
)

// Identity values (RFC 7208 §9.1 "identity" key).
const (
	IdentityMailFrom = "mailfrom"
	IdentityHelo     = "helo"
)

// Checker evaluates SPF policies. The zero value works with the system
// resolver; a Checker is safe for concurrent use if its Resolver is.
type Checker struct {
	// Resolver answers every DNS query; nil means net.DefaultResolver.
	Resolver resolver.Resolver
	// Receiver is our host name, for %{r} in explanations (§7.3) and the
	// Received-SPF receiver key (§9.1).
	Receiver string
	// MaxLookups caps DNS-querying terms per check; 0 means 10 (§4.6.4).
	MaxLookups int
	// MaxVoidLookups caps lookups that answer NXDOMAIN or no data; 0
	// means 2, the RFC 7208 §4.6.4 recommendation.
	MaxVoidLookups int
	// Now returns the time for %{t}; nil means time.Now.
	Now func() time.Time
	// DefaultExplanation is used for fail when the record has no usable
	// exp= (§6.2). It is macro-expanded like exp= text if it is valid
	// explain-string syntax, and used as is otherwise.
	DefaultExplanation string
}

// Outcome is the result of one check with everything a header or log line
// needs.
type Outcome struct {
	Result Result
	// Identity is IdentityMailFrom or IdentityHelo (RFC 7208 §9.1).
	Identity string
	// Domain is the domain whose policy was evaluated (the identity's
	// domain; redirect= and include: targets are not reported here).
	Domain string
	// Sender is the <sender> of check_host(): postmaster@<helo> for the
	// null reverse-path (§2.4) and postmaster@<domain> without a
	// local-part (§4.3).
	Sender string
	// Mechanism is the matching mechanism as written ("-all",
	// "include:_spf.example.com"), "" when the default result applied.
	Mechanism string
	// Explanation is set for Fail: the expanded exp= text or the expanded
	// DefaultExplanation, restricted to printable ASCII (§6.2). It comes
	// from a third party and must be presented as such.
	Explanation string
	// Problem says why the result is temperror, permerror or none.
	Problem string
	// Lookups and VoidLookups are what the check spent against the
	// §4.6.4 limits (exp= lookups are not counted).
	Lookups, VoidLookups int
}

// CheckMailFrom checks the MAIL FROM identity (RFC 7208 §2.4). mailFrom may
// carry angle brackets; "" or "<>" is the null reverse-path, for which the
// identity is postmaster@<helo>. A mailbox without a local-part is checked
// as postmaster@domain (§4.3).
func (c *Checker) CheckMailFrom(ctx context.Context, ip net.IP, helo, mailFrom string) Outcome {
	mf := strings.TrimSpace(mailFrom)
	if strings.HasPrefix(mf, "<") && strings.HasSuffix(mf, ">") {
		mf = mf[1 : len(mf)-1]
	}
	if mf == "" {
		mf = "postmaster@" + strings.TrimSuffix(helo, ".")
	}
	local, domain := splitSender(mf)
	return c.check(ctx, IdentityMailFrom, ip, domain, local+"@"+domain, helo)
}

// CheckHelo checks the HELO/EHLO identity (RFC 7208 §2.3) as
// postmaster@<helo>. An address literal or a name that is not a
// fully-qualified domain name gives None with a Problem, without any DNS
// query (§2.3, §4.3).
func (c *Checker) CheckHelo(ctx context.Context, ip net.IP, helo string) Outcome {
	h := strings.TrimSuffix(helo, ".")
	return c.check(ctx, IdentityHelo, ip, h, "postmaster@"+h, helo)
}

// CheckHost is check_host(<ip>, <domain>, <sender>) of RFC 7208 §4, with
// helo for %{h}. It reports IdentityMailFrom; use CheckHelo for the HELO
// identity. A sender without a local-part gets "postmaster" (§4.3).
func (c *Checker) CheckHost(ctx context.Context, ip net.IP, domain, sender, helo string) Outcome {
	if sender == "" {
		sender = "postmaster@" + domain
	}
	local, sdom := splitSender(sender)
	return c.check(ctx, IdentityMailFrom, ip, domain, local+"@"+sdom, helo)
}

// splitSender splits at the last "@" (a quoted local-part may contain "@"),
// substituting "postmaster" for a missing local-part (§4.3).
func splitSender(s string) (local, domain string) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return "postmaster", s
	}
	local, domain = s[:i], s[i+1:]
	if local == "" {
		local = "postmaster"
	}
	return local, domain
}

// validInitialDomain applies RFC 7208 §4.3: a malformed domain (empty label,
// label over 63 octets, over 253 octets), a single-label name, an address
// literal or anything but letters, digits, "-" and "_" makes check_host()
// return none without a query.
func validInitialDomain(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 || net.ParseIP(d) != nil || !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}
