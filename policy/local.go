package policy

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"

	"github.com/authmilter/authmilter/policy/authres"
	"github.com/authmilter/authmilter/policy/dmarc"
	"github.com/authmilter/authmilter/policy/msghdr"
)

// DMARCOptions is the local policy around DMARC (RFC 7489 §6.7 and §10,
// RFC 9989): what we enforce, and for whom we make exceptions.
type DMARCOptions struct {
	// Enforce rejects and quarantines as the domain's policy asks. When
	// false, results are only written into the header (report-only).
	Enforce bool
	// Quarantine is QuarantineHold (the MTA's hold queue, via the milter
	// quarantine action) or QuarantineHeader (deliver, with
	// QuarantineHeaderName added so the mail store can file it as spam).
	Quarantine           string
	QuarantineHeaderName string
	// TrustedForwarders re-send other people's mail: their DMARC failures
	// are reported and not enforced. TrustedRelays are our own border
	// MXes: SPF is judged on the client they recorded.
	TrustedForwarders, TrustedRelays []netip.Prefix
	// Mode and PSL select RFC 9989 (DNS tree walk) or RFC 7489 (public
	// suffix list) policy discovery.
	Mode dmarc.Mode
	PSL  dmarc.PSL
	// OnDNSError acts on a temporary DNS failure while looking up a policy.
	OnDNSError DNSErrorAction
	// ExemptMailingLists: mail with a List-Id field is not enforced.
	ExemptMailingLists bool
	// RejectMultipleAuthors: several From fields or author domains are
	// refused; otherwise every author domain is evaluated and the
	// strictest outcome applies (RFC 7489 §6.6.1).
	RejectMultipleAuthors bool
	// RejectMalformedFrom: a message without a From field, or whose From
	// has no usable domain, is refused; otherwise it gets dmarc=permerror.
	RejectMalformedFrom bool
	// TempfailRelayWithoutReceived: a trusted relay's message with no
	// readable Received field is answered 451 4.7.0; otherwise it is judged
	// as if SPF gave "none" (DMARC may still pass by DKIM, never by SPF).
	TempfailRelayWithoutReceived bool
	// RejectText follows "550 5.7.1 " when a DMARC reject is enforced.
	RejectText string
	// Rand draws the RFC 7489 pct roll, 0 to 99; nil means math/rand/v2.
	Rand func() int
}

// Quarantine modes.
const (
	QuarantineHold   = "hold"
	QuarantineHeader = "header"
)

func (o *DMARCOptions) setDefaults() error {
	switch o.Quarantine {
	case "":
		o.Quarantine = QuarantineHold
	case QuarantineHold, QuarantineHeader:
	default:
		return fmt.Errorf("%w: quarantine %q", ErrOptions, o.Quarantine)
	}
	if o.QuarantineHeaderName == "" {
		o.QuarantineHeaderName = "X-Authmilter-Quarantine"
	}
	if o.Mode == "" {
		o.Mode = dmarc.ModeRFC9989
	}
	switch o.OnDNSError {
	case "":
		o.OnDNSError = DNSErrorAccept
	case DNSErrorAccept, DNSErrorTempfail:
	default:
		return fmt.Errorf("%w: dmarc on_dns_error %q", ErrOptions, o.OnDNSError)
	}
	if o.RejectText == "" {
		o.RejectText = "Message rejected by DMARC policy of the From domain"
	}
	if o.Rand == nil {
		o.Rand = func() int { return rand.IntN(100) }
	}
	return nil
}

// Override is why the applied disposition is less strict than the one the
// domain asked for. Type uses the words of the RFC 7489 aggregate report
// schema (PolicyOverrideType) and RFC 9989's policy_test_mode.
type Override struct {
	Type    string // forwarded, sampled_out, trusted_forwarder, mailing_list, local_policy, policy_test_mode, other
	Comment string
}

// DMARCVerdict is the DMARC outcome of a message: the evaluation of the
// author domain (the strictest one, when several are evaluated) and what
// local policy made of it.
type DMARCVerdict struct {
	dmarc.Result
	// Applied is the disposition we applied: none, quarantine or reject.
	Applied   dmarc.Policy
	Overrides []Override
	// Authors is what the From field(s) said.
	Authors msghdr.Authors
}

// ReportRecord is one message's row of a DMARC aggregate report (RFC 7489
// Appendix C, RFC 9990): everything reporting needs, kept with the verdict
// so that the report store, when it comes, only has to save it.
type ReportRecord struct {
	SourceIP     net.IP // the judged client: the original one behind a trusted relay
	EnvelopeFrom string // MAIL FROM domain (the HELO name for the null sender)
	EnvelopeTo   []string
	HeaderFrom   string // the author domain evaluated
	SPFDomain    string
	SPFScope     string // "mfrom" or "helo"
	SPFResult    string
	DKIM         []dmarc.DKIMAlignment
	SPFAligned   bool
	DKIMAligned  bool
	// PolicyPublished is the record that applied, and PolicyDomain where it
	// was found.
	PolicyDomain    string
	PolicyPublished *dmarc.Record
	Disposition     dmarc.Policy // applied
	Overrides       []Override
	DMARCResult     string
}

// judgeDMARC reads the author domain(s), evaluates DMARC and applies local
// policy: exemptions, enforcement, the quarantine mode. It fills v.DMARC
// and v.Report and may change v.Action.
func (m *Message) judgeDMARC(v *Verdict, clientIP net.IP) {
	o := m.e.opts.DMARC
	var froms []string
	listID := false
	for _, h := range m.headers {
		switch {
		case strings.EqualFold(h.Name, "From"):
			froms = append(froms, h.Value)
		case strings.EqualFold(h.Name, "List-Id"):
			listID = true
		}
	}
	authors := msghdr.ParseFrom(froms)
	dv := &DMARCVerdict{Authors: authors, Applied: dmarc.PolicyNone}
	v.DMARC = dv
	// Problems with From are enforcement too: our own users and the
	// forwarders we trust get a result in the header, not a rejection.
	subject := m.class == Inbound || m.class == Relay

	if len(authors.Domains) == 0 {
		// RFC 7489 §6.6.1: without an author domain there is nothing to
		// evaluate, and such mail is outside DMARC; say so in the header.
		dv.Result.Result, dv.Result.Reason = "permerror", "no usable author domain in From: "+problemText(authors)
		if subject && o.RejectMalformedFrom {
			m.reject(v, "From header field missing or without a usable domain", dv.Reason)
		}
		m.fillReport(v, clientIP)
		return
	}
	if (authors.Fields > 1 || len(authors.Domains) > 1) && o.RejectMultipleAuthors {
		dv.Result.Result, dv.Result.Reason = "permerror", "several authors: "+problemText(authors)
		dv.Result.FromDomain = authors.Domains[0]
		if subject {
			m.reject(v, "Multiple From fields or author domains", dv.Reason)
		}
		m.fillReport(v, clientIP)
		return
	}

	in := dmarc.Input{
		SPF:     dmarc.SPFInput{Result: string(v.SPF.Result), Domain: domainOf(v.SPF.Sender)},
		PctRoll: o.Rand(),
	}
	for _, d := range v.DKIM {
		in.DKIM = append(in.DKIM, dmarc.DKIMInput{Result: d.Result, Domain: d.Domain, Selector: d.Selector})
	}
	src := dmarc.ResolverSource(m.ctx, m.e.res)
	for i, d := range authors.Domains {
		in.FromDomain = d
		r := m.e.dmarc.Evaluate(in, src)
		if i == 0 || stricter(r, dv.Result) {
			dv.Result = r
		}
	}
	r := dv.Result

	// Local policy: start from what the record asks for this message
	// (after pct sampling and t=y), then apply our exemptions.
	applied := r.Disposition
	if r.Result != "fail" {
		applied = dmarc.PolicyNone
	}
	if r.Result == "fail" && r.SampledOut {
		dv.Overrides = append(dv.Overrides, Override{Type: "sampled_out", Comment: fmt.Sprintf("pct=%d", pctOf(r.Record))})
	}
	if r.Result == "fail" && r.Testing {
		dv.Overrides = append(dv.Overrides, Override{Type: "policy_test_mode", Comment: "t=y"})
	}
	if r.Result == "fail" && applied != dmarc.PolicyNone {
		var ov *Override
		switch {
		case m.class == Authenticated:
			ov = &Override{Type: "local_policy", Comment: "authenticated submission"}
		case m.class == Internal:
			ov = &Override{Type: "local_policy", Comment: "internal network"}
		case m.class == Forwarder:
			ov = &Override{Type: "trusted_forwarder", Comment: ipString(clientIP)}
		case listID && o.ExemptMailingLists:
			ov = &Override{Type: "mailing_list", Comment: "List-Id present"}
		case !o.Enforce:
			ov = &Override{Type: "local_policy", Comment: "report-only (enforce = false)"}
		}
		if ov != nil {
			dv.Overrides = append(dv.Overrides, *ov)
			applied = dmarc.PolicyNone
		}
	}
	dv.Applied = applied
	switch applied {
	case dmarc.PolicyReject:
		m.reject(v, o.RejectText, "DMARC p="+string(r.RequestedPolicy)+" of "+r.PolicyDomain)
	case dmarc.PolicyQuarantine:
		if v.Action == Accept {
			if o.Quarantine == QuarantineHold {
				v.Action = Quarantine
				v.QuarantineReason = "DMARC quarantine policy of " + r.FromDomain
			}
			v.Reasons = append(v.Reasons, "DMARC quarantine ("+o.Quarantine+")")
		}
	}
	// Report-only never defers mail: a retry could not change what we do.
	if r.Result == "temperror" && subject && o.Enforce && o.OnDNSError == DNSErrorTempfail && v.Action == Accept {
		v.Action = Tempfail
		v.Reply = Reply{Code: 451, Enhanced: "4.4.3", Text: "Temporary DNS failure during policy check, try again later"}
		v.Reasons = append(v.Reasons, "DMARC policy lookup temperror and [dmarc] on_dns_error = tempfail")
	}
	m.fillReport(v, clientIP)
}

// reject sets a 550 5.7.1 verdict, keeping an earlier refusal if any.
func (m *Message) reject(v *Verdict, text, why string) {
	if v.Action == Reject || v.Action == Tempfail {
		return
	}
	v.Action = Reject
	v.Reply = Reply{Code: 550, Enhanced: "5.7.1", Text: text}
	v.Reasons = append(v.Reasons, why)
}

// stricter reports whether a should replace b as the outcome of a message
// with several author domains: the strictest disposition wins, then the
// worse result (RFC 7489 §6.6.1 "apply the most strict policy").
func stricter(a, b dmarc.Result) bool {
	if ra, rb := dispositionRank(a), dispositionRank(b); ra != rb {
		return ra > rb
	}
	return resultRank(a.Result) > resultRank(b.Result)
}

func dispositionRank(r dmarc.Result) int {
	if r.Result != "fail" {
		return 0
	}
	switch r.Disposition {
	case dmarc.PolicyReject:
		return 2
	case dmarc.PolicyQuarantine:
		return 1
	}
	return 0
}

func resultRank(r string) int {
	switch r {
	case "fail":
		return 4
	case "temperror":
		return 3
	case "permerror":
		return 2
	case "none":
		return 1
	}
	return 0 // pass
}

func pctOf(r *dmarc.Record) int {
	if r == nil {
		return 100
	}
	return r.Pct
}

func problemText(a msghdr.Authors) string {
	if len(a.Problems) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(a.Problems))
	for _, p := range a.Problems {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, "; ")
}

// domainOf returns the domain of an address, lower-cased, or "" for none.
func domainOf(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(addr[at+1:], "."))
}

func ipString(ip net.IP) string {
	if ip == nil {
		return ""
	}
	return ip.String()
}

// fillReport records what a DMARC aggregate report needs about this
// message. It is filled whatever the outcome: reports count every message
// of a domain with a policy.
func (m *Message) fillReport(v *Verdict, clientIP net.IP) {
	d := v.DMARC
	rec := &ReportRecord{
		SourceIP:        clientIP,
		EnvelopeFrom:    domainOf(v.SPF.Sender),
		HeaderFrom:      d.FromDomain,
		SPFDomain:       domainOf(v.SPF.Sender),
		SPFScope:        "mfrom",
		SPFResult:       string(v.SPF.Result),
		DKIM:            d.DKIM,
		SPFAligned:      d.SPFAligned,
		DKIMAligned:     d.DKIMAligned,
		PolicyDomain:    d.PolicyDomain,
		PolicyPublished: d.Record,
		Disposition:     d.Applied,
		Overrides:       d.Overrides,
		DMARCResult:     d.Result.Result,
	}
	if rec.HeaderFrom == "" && len(d.Authors.Domains) > 0 {
		rec.HeaderFrom = d.Authors.Domains[0]
	}
	if m.env.MailFrom == "" {
		// The null sender: SPF checked postmaster@HELO (RFC 7208 §2.4),
		// whose domain the report names.
		rec.SPFScope = "helo"
	}
	for _, r := range m.env.Rcpts {
		rec.EnvelopeTo = append(rec.EnvelopeTo, domainOf(r))
	}
	if v.Action == Reject {
		rec.Disposition = dmarc.PolicyReject
	}
	v.Report = rec
}

// dmarcResult is the Authentication-Results entry for DMARC (RFC 7489
// §11.2, RFC 8601): the result, the author domain as header.from, and the
// policy properties: policy.dmarc is what the domain requested (p, sp or
// np), policy.applied what we did, policy.override why they differ. The
// comment repeats them in the form OpenDMARC and Gmail write.
func dmarcResult(d *DMARCVerdict) authres.Result {
	r := authres.Result{Method: "dmarc", Value: d.Result.Result}
	if d.Result.Result != "pass" && d.Result.Result != "fail" {
		r.Reason = d.Reason
	}
	if d.FromDomain != "" {
		r.Props = append(r.Props, authres.Property{Type: "header", Name: "from", Value: d.FromDomain})
	} else if len(d.Authors.Domains) > 0 {
		r.Props = append(r.Props, authres.Property{Type: "header", Name: "from", Value: d.Authors.Domains[0]})
	}
	if d.RequestedPolicy != "" {
		r.Comment = "p=" + string(d.RequestedPolicy) + " dis=" + strings.ToUpper(string(d.Applied))
		if d.Record != nil && d.PolicyTag != "" && d.PolicyTag != "p" {
			r.Comment = d.PolicyTag + "=" + string(d.RequestedPolicy) + " dis=" + strings.ToUpper(string(d.Applied))
		}
		r.Props = append(r.Props,
			authres.Property{Type: "policy", Name: "dmarc", Value: string(d.RequestedPolicy)},
			authres.Property{Type: "policy", Name: "applied", Value: string(d.Applied)})
	}
	for _, o := range d.Overrides {
		r.Props = append(r.Props, authres.Property{Type: "policy", Name: "override", Value: o.Type})
	}
	return r
}
