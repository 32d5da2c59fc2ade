package dmarc

import (
	"errors"
	"fmt"

	"github.com/authmilter/authmilter/resolver"
)

// Destination is the verdict on one rua=/ruf= URI of a policy domain
// (RFC 7489 §7.1).
type Destination struct {
	URI URI
	// External: the URI's domain has another Organizational Domain than
	// the policy domain, so the destination must authorize the reports.
	External bool
	// Authorized: not External, or <policy domain>._report._dmarc.<host>
	// publishes a v=DMARC1 record.
	Authorized bool
	// Override holds the rua= URIs of that authorization record, which
	// replace URI (RFC 7489 §7.1 "the URI ... MUST be replaced").
	Override []URI
	Lookups  int
	// Err is a temporary DNS failure: try again later, do not send.
	Err error
}

// ReportDestination checks whether reports for policyDomain may go to u
// (RFC 7489 §7.1, the "External Destination Verification" of the DMARC
// reporting documents). Organizational Domains follow e.Mode.
func (e *Evaluator) ReportDestination(policyDomain string, u URI, src Source) Destination {
	r := e.newRun(src)
	d := Destination{URI: u}
	pd, host := normalize(policyDomain), u.Host()
	defer func() { d.Lookups = r.lookups }()
	if !validDomain(pd) || !validDomain(host) {
		d.External = true
		return d
	}
	op, err := r.org(pd)
	if err == nil {
		var oh string
		oh, err = r.org(host)
		d.External = op != oh
	}
	if err != nil {
		d.External, d.Err = true, err
		return d
	}
	if !d.External {
		d.Authorized = true
		return d
	}
	if r.lookups >= r.max {
		d.Err = errBudget
		return d
	}
	r.lookups++
	name := pd + "._report._dmarc." + host
	txts, err := src.TXT(name)
	if err != nil {
		if resolver.IsTemporary(err) {
			d.Err = fmt.Errorf("DNS lookup of %s failed: %w", name, err)
		}
		return d
	}
	for _, t := range txts {
		rec, perr := ParseRecordMode(t, r.mode)
		if errors.Is(perr, ErrNotDMARC) {
			continue
		}
		d.Authorized = true
		if rec != nil && len(rec.RUA) > 0 {
			d.Override = append(d.Override, rec.RUA...)
		}
	}
	return d
}
