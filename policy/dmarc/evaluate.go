package dmarc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/authmilter/authmilter/resolver"
)

// DefaultMaxLookups bounds the DNS queries one Evaluate asks of its
// Source. One Tree Walk is at most 8 queries (RFC 9989 §4.10); 30 covers
// the author domain, the MAIL FROM domain and two unrelated DKIM domains,
// and shared ancestors are asked only once.
const DefaultMaxLookups = 30

// maxWalk is the Tree Walk's label limit: the author domain, then at most
// 7 labels, then one label fewer each step (RFC 9989 §4.10 step 4).
const maxWalk = 8

// SPFInput is the SPF result of the message (RFC 7208 result token) and
// the MAIL FROM identity's domain it was for. DMARC aligns only the MAIL
// FROM identity; a HELO check result is not an input (RFC 9989 §4.4.2).
// For the null sender that identity is postmaster@<HELO domain> (RFC 7208
// §2.4, referenced by RFC 9989 §3.2 "SPF Domain"); the caller decides
// which domain it passes.
type SPFInput struct {
	Result string // "pass", "fail", ...
	Domain string // MAIL FROM domain; "" for the null sender
}

// DKIMInput is one DKIM signature's result (RFC 8601 dkim token) and its
// d= and s=.
type DKIMInput struct {
	Result           string
	Domain, Selector string
}

// Input is everything Evaluate needs besides DNS.
type Input struct {
	// FromDomain is the RFC5322.From domain, lowercase A-labels.
	FromDomain string
	SPF        SPFInput
	DKIM       []DKIMInput
	// PctRoll is a number in 0..99 drawn by the caller; the policy applies
	// when PctRoll < pct (RFC 7489 §6.6.4). Out-of-range values are
	// clamped.
	PctRoll int
}

// DKIMAlignment reports one signature's alignment with the author domain.
type DKIMAlignment struct {
	Domain, Selector, Result string
	Aligned                  bool
}

// Evaluator holds the receiver's DMARC settings. The zero value is an RFC
// 9989 evaluator with the built-in PSL. It is safe for concurrent use.
type Evaluator struct {
	Mode Mode // "" = ModeRFC9989
	PSL  PSL  // ModeRFC7489 organizational domains; nil = BuiltinPSL()
	// MaxLookups caps the DNS queries per message; 0 = DefaultMaxLookups.
	MaxLookups int
}

// Result is the DMARC outcome of one message.
type Result struct {
	// Result is the RFC 8601 dmarc token: pass, fail, none, temperror,
	// permerror (RFC 7489 §11.2).
	Result                string
	FromDomain, OrgDomain string
	PolicyDomain          string // where the record was found ("" if none)
	Record                *Record
	// RequestedPolicy is p=, sp= or np= as applicable; PolicyTag names it.
	RequestedPolicy Policy
	PolicyTag       string
	// Disposition is what the record asks for this message after pct
	// sampling and t=y: PolicyNone unless the result is fail.
	Disposition Policy
	// SampledOut: the message failed, the requested policy is not none
	// and the pct roll exempted it (RFC 7489 §6.6.4). Testing: the same,
	// for t=y (RFC 9989 §4.7; RFC 9989 mode only). Either downgrades the
	// policy by one step; both together still by one step.
	SampledOut, Testing     bool
	SPFAligned, DKIMAligned bool
	SPFDomain               string
	DKIM                    []DKIMAlignment
	Reason                  string
	// Lookups counts the calls made to the Source: TXT queries and, at
	// most once, ExistenceSource.Exists. At most Evaluator.MaxLookups.
	Lookups int
}

var (
	errBudget = errors.New("dmarc: DNS lookup limit reached")
)

// lookup is what one _dmarc.<name> query gave.
type lookup struct {
	temp     error   // temporary DNS failure
	multiple bool    // more than one v=DMARC1 record (all discarded)
	found    bool    // exactly one v=DMARC1 record
	rec      *Record // the record when it parsed
	perr     error   // why it did not
}

type run struct {
	mode    Mode
	psl     PSL
	src     Source
	max     int
	lookups int
	cache   map[string]*lookup
	orgs    map[string]orgResult
}

type orgResult struct {
	org string
	psd string // the psd=y record's domain that decided org, if any
	err error
}

func (e *Evaluator) newRun(src Source) *run {
	r := &run{mode: e.Mode, psl: e.PSL, src: src, max: e.MaxLookups,
		cache: map[string]*lookup{}, orgs: map[string]orgResult{}}
	if r.mode != ModeRFC7489 {
		r.mode = ModeRFC9989
	}
	if r.psl == nil {
		r.psl = builtinPSL
	}
	if r.max <= 0 {
		r.max = DefaultMaxLookups
	}
	return r
}

// fetch queries _dmarc.<name> once per run and keeps the DMARC records
// (RFC 7489 §6.6.3 steps 1-2, RFC 9989 §4.10 steps 2 and 6: records not
// starting with v=DMARC1 are discarded; several DMARC records are all
// discarded).
func (r *run) fetch(name string) (*lookup, error) {
	if lk, ok := r.cache[name]; ok {
		return lk, nil
	}
	if r.lookups >= r.max {
		return nil, errBudget
	}
	r.lookups++
	lk := &lookup{}
	r.cache[name] = lk
	txts, err := r.src.TXT("_dmarc." + name)
	if err != nil {
		if resolver.IsTemporary(err) {
			lk.temp = err
		}
		// NXDOMAIN, NODATA and permanent errors: no record.
		return lk, nil
	}
	n := 0
	for _, t := range txts {
		rec, perr := ParseRecordMode(t, r.mode)
		if errors.Is(perr, ErrNotDMARC) {
			continue
		}
		n++
		lk.rec, lk.perr = rec, perr
	}
	switch {
	case n > 1:
		lk.multiple, lk.rec, lk.perr = true, nil, nil
	case n == 1:
		lk.found = true
	}
	return lk, nil
}

// walk returns the names the DNS Tree Walk visits for d (RFC 9989
// §4.10 steps 3-4 and 7): d itself, then (if d has 8 or more labels) its
// 7-label suffix, then one label fewer at a time down to the TLD.
func walk(d string) []string {
	labels := strings.Split(d, ".")
	n := len(labels)
	names := make([]string, 0, maxWalk)
	names = append(names, d)
	start := n - 1
	if n >= maxWalk {
		start = maxWalk - 1
	}
	for k := start; k >= 1; k-- {
		names = append(names, strings.Join(labels[n-k:], "."))
	}
	return names
}

// suffixOf returns the last k labels of d.
func suffixOf(d string, k int) string {
	labels := strings.Split(d, ".")
	if k >= len(labels) {
		return d
	}
	return strings.Join(labels[len(labels)-k:], ".")
}

func labelCount(d string) int { return strings.Count(d, ".") + 1 }

// discover finds the policy record for the author domain. It returns the
// name where a record was found (with lk.found), or "" with a reason.
func (r *run) discover(from string) (string, *lookup, string, error) {
	if r.mode == ModeRFC7489 {
		return r.discover7489(from)
	}
	// RFC 9989 §4.10.1: the record to apply is the one at the Author
	// Domain, else the one at its Organizational Domain, else the one at
	// its Public Suffix Domain. The first query is for the Author Domain.
	lk, err := r.fetch(from)
	if err != nil {
		return "", nil, "", err
	}
	if lk.temp != nil {
		return "", nil, "", fmt.Errorf("DNS lookup of _dmarc.%s failed: %w", from, lk.temp)
	}
	if lk.found {
		return from, lk, "", nil
	}
	var notes []string
	if lk.multiple {
		// RFC 9989 §4.10 step 2: all discarded; the walk goes on.
		notes = append(notes, "multiple DMARC records at _dmarc."+from+" ignored")
	}
	// Otherwise the Tree Walk from the parent (the walk for the
	// Organizational Domain starting at the Author Domain, whose first
	// query is already answered).
	o, err := r.orgResult(from)
	if err != nil {
		return "", nil, "", err
	}
	for _, name := range walk(from)[1:] {
		if l := r.cache[name]; l != nil && l.multiple {
			notes = append(notes, "multiple DMARC records at _dmarc."+name+" ignored")
		}
	}
	if l := r.cache[o.org]; l != nil && l.found {
		return o.org, l, strings.Join(notes, "; "), nil
	}
	if o.psd != "" {
		return o.psd, r.cache[o.psd], strings.Join(notes, "; "), nil
	}
	if len(notes) > 0 {
		return "", nil, strings.Join(notes, "; "), nil
	}
	return "", nil, "no DMARC record", nil
}

// discover7489 is RFC 7489 §6.6.3 steps 1-5: the author domain, then the
// Organizational Domain if different and only if the first set was empty.
func (r *run) discover7489(from string) (string, *lookup, string, error) {
	names := []string{from}
	if org := r.pslOrg(from); org != from {
		names = append(names, org)
	}
	for _, name := range names {
		lk, err := r.fetch(name)
		if err != nil {
			return "", nil, "", err
		}
		if lk.temp != nil {
			return "", nil, "", fmt.Errorf("DNS lookup of _dmarc.%s failed: %w", name, lk.temp)
		}
		if lk.multiple {
			// Step 5: the set is not empty, so the Organizational Domain
			// is not asked; multiple records end discovery without DMARC
			// processing.
			return "", nil, "multiple DMARC records at _dmarc." + name, nil
		}
		if lk.found {
			return name, lk, "", nil
		}
	}
	return "", nil, "no DMARC record", nil
}

// pslOrg is the RFC 7489 §3.2 Organizational Domain: the registrable
// domain, or the name itself when it is a public suffix.
func (r *run) pslOrg(d string) string {
	if o := RegistrableDomain(r.psl, d); o != "" {
		return o
	}
	return d
}

// org returns the Organizational Domain of d for this run's mode.
func (r *run) org(d string) (string, error) {
	if r.mode == ModeRFC7489 {
		return r.pslOrg(d), nil
	}
	o, err := r.orgResult(d)
	return o.org, err
}

func (r *run) orgResult(d string) (orgResult, error) {
	if o, ok := r.orgs[d]; ok {
		return o, o.err
	}
	o := r.treeOrg(d)
	r.orgs[d] = o
	return o, o.err
}

// treeOrg is the DNS Tree Walk of RFC 9989 §4.10 starting at d, with the
// Organizational Domain selection of §4.10.2. The walk stops at the first
// record carrying psd=y or psd=n (§4.10 steps 2 and 6). Over the valid
// records found, from the longest name to the shortest: psd=n makes its
// domain the Organizational Domain; psd=y (other than at d itself) makes
// the domain one label below it the Organizational Domain (and that
// record the Public Suffix Domain's, returned in psd); otherwise the name
// with the fewest labels that has a record is; with no record at all, d
// is.
func (r *run) treeOrg(d string) orgResult {
	fewest := ""
	for i, name := range walk(d) {
		lk, err := r.fetch(name)
		if err != nil {
			return orgResult{err: err}
		}
		if lk.temp != nil {
			return orgResult{err: fmt.Errorf("DNS lookup of _dmarc.%s failed: %w", name, lk.temp)}
		}
		if !lk.found || lk.rec == nil {
			continue
		}
		switch {
		case lk.rec.PSD == "n":
			return orgResult{org: name}
		case lk.rec.PSD == "y" && i > 0:
			return orgResult{org: suffixOf(d, labelCount(name)+1), psd: name}
		case lk.rec.PSD == "y":
			return orgResult{org: name} // the walk stops; rule 3 picks d
		}
		fewest = name
	}
	if fewest != "" {
		return orgResult{org: fewest}
	}
	return orgResult{org: d}
}

// aligned checks one authenticated identifier against the author domain
// (RFC 7489 §3.1, RFC 9989 §4.4): strict is an exact match; relaxed
// compares Organizational Domains.
func (r *run) aligned(from, id string, strict bool) (bool, error) {
	id = normalize(id)
	if id == "" || !validDomain(id) {
		return false, nil
	}
	if id == from {
		return true, nil
	}
	if strict {
		return false, nil
	}
	// Names with different TLDs cannot share an Organizational Domain;
	// spare the lookups.
	if suffixOf(id, 1) != suffixOf(from, 1) {
		return false, nil
	}
	of, err := r.org(from)
	if err != nil {
		return false, err
	}
	oi, err := r.org(id)
	if err != nil {
		return false, err
	}
	return of == oi, nil
}

// Evaluate is the DMARC decision for one message: policy discovery,
// identifier alignment, the requested policy and the disposition after
// pct/t=y. It asks src only for TXT records at _dmarc names (and, for
// np=, the existence of the author domain), at most MaxLookups times.
func (e *Evaluator) Evaluate(in Input, src Source) Result {
	r := e.newRun(src)
	res := Result{FromDomain: normalize(in.FromDomain), SPFDomain: normalize(in.SPF.Domain), Disposition: PolicyNone}
	finish := func(token, reason string) Result {
		res.Result, res.Reason, res.Lookups = token, reason, r.lookups
		return res
	}
	from := res.FromDomain
	res.DKIM = make([]DKIMAlignment, len(in.DKIM))
	for i, d := range in.DKIM {
		res.DKIM[i] = DKIMAlignment{Domain: normalize(d.Domain), Selector: d.Selector, Result: strings.ToLower(d.Result)}
	}
	if !validDomain(from) {
		return finish(ResultPermError, fmt.Sprintf("invalid author domain %q", truncate(in.FromDomain)))
	}

	policyDomain, lk, why, err := r.discover(from)
	switch {
	case errors.Is(err, errBudget):
		return finish(ResultPermError, "DNS lookup limit reached during policy discovery")
	case err != nil:
		return finish(ResultTempError, err.Error())
	case policyDomain == "":
		// RFC 7489 §6.6.3 step 5 / RFC 9989 §4.10.1: no policy, no DMARC
		// processing.
		return finish(ResultNone, why)
	}
	res.PolicyDomain = policyDomain
	if lk.perr != nil {
		if errors.Is(lk.perr, ErrNoPolicy) {
			// RFC 7489 §6.6.3 step 6: no DMARC processing.
			return finish(ResultNone, fmt.Sprintf("record at _dmarc.%s unusable: %v", policyDomain, lk.perr))
		}
		// RFC 7489 §11.2: permerror for a syntactically incorrect record.
		return finish(ResultPermError, fmt.Sprintf("record at _dmarc.%s: %v", policyDomain, lk.perr))
	}
	rec := lk.rec
	res.Record = rec
	if o, err := r.org(from); err == nil {
		res.OrgDomain = o
	}

	// Identifier alignment (RFC 7489 §3.1 and §4.2, RFC 9989 §4.4): only
	// a passing SPF or DKIM result can align.
	var reasons, alignErrs []string
	budget := false
	note := func(what string, err error) {
		if errors.Is(err, errBudget) {
			budget = true
		}
		alignErrs = append(alignErrs, what+": "+err.Error())
	}
	if strings.EqualFold(in.SPF.Result, "pass") && res.SPFDomain != "" {
		ok, err := r.aligned(from, res.SPFDomain, rec.ASPF == "s")
		if err != nil {
			note("spf "+res.SPFDomain, err)
		}
		if ok {
			res.SPFAligned = true
			reasons = append(reasons, "spf "+res.SPFDomain+" aligned")
		}
	}
	for i := range res.DKIM {
		d := &res.DKIM[i]
		if d.Result != "pass" || d.Domain == "" {
			continue
		}
		ok, err := r.aligned(from, d.Domain, rec.ADKIM == "s")
		if err != nil {
			note("dkim "+d.Domain, err)
		}
		if ok {
			d.Aligned, res.DKIMAligned = true, true
			reasons = append(reasons, "dkim "+d.Domain+" aligned")
		}
	}

	// The policy that applies (RFC 7489 §6.3 "sp", RFC 9989 §4.10.1): p=
	// when the record is the author domain's own, sp= when it was found at
	// the organizational or public suffix domain above it, and in RFC 9989
	// mode np= instead when the author domain does not exist (NXDOMAIN).
	// The existence query is only asked when it can change the verdict: a
	// failing message and an np= that was published.
	res.PolicyTag = "p"
	if from != policyDomain {
		res.PolicyTag = "sp"
	}
	pass := res.SPFAligned || res.DKIMAligned
	if !pass && res.PolicyTag == "sp" && r.mode == ModeRFC9989 && rec.HasNP {
		if es, ok := src.(ExistenceSource); ok {
			if r.lookups >= r.max {
				reasons = append(reasons, "DNS lookup limit reached before the existence check, sp used")
			} else {
				r.lookups++
				exists, err := es.Exists(from)
				switch {
				case err != nil:
					// A domain whose existence cannot be checked is
					// presumed to exist: sp= applies.
					reasons = append(reasons, "existence check failed, sp used: "+err.Error())
				case !exists:
					res.PolicyTag = "np"
				}
			}
		}
	}
	res.RequestedPolicy = rec.policyFor(res.PolicyTag)

	if pass {
		return finish(ResultPass, strings.Join(reasons, "; "))
	}
	if len(alignErrs) > 0 {
		// An identifier whose alignment could not be decided might have
		// aligned: no fail verdict on a guess.
		if budget {
			return finish(ResultPermError, "DNS lookup limit reached: "+strings.Join(alignErrs, "; "))
		}
		return finish(ResultTempError, strings.Join(alignErrs, "; "))
	}

	// RFC 7489 §6.6.4: a failing pct roll applies the next less severe
	// policy; RFC 9989 §4.7: t=y asks for the same one-step downgrade. The
	// two do not stack: both mean "not fully enforced yet".
	disp := res.RequestedPolicy
	roll := min(max(in.PctRoll, 0), 99)
	res.SampledOut = disp != PolicyNone && rec.Pct < 100 && roll >= rec.Pct
	res.Testing = disp != PolicyNone && r.mode == ModeRFC9989 && rec.Testing
	if res.SampledOut || res.Testing {
		disp = downgrade(disp)
	}
	res.Disposition = disp
	why = "no aligned identifier"
	if len(reasons) > 0 {
		why += "; " + strings.Join(reasons, "; ")
	}
	return finish(ResultFail, why)
}

func downgrade(p Policy) Policy {
	switch p {
	case PolicyReject:
		return PolicyQuarantine
	default:
		return PolicyNone
	}
}
