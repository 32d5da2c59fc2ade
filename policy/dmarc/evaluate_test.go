package dmarc

import (
	"reflect"
	"strings"
	"testing"
)

func TestWalk(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"com", []string{"com"}},
		{"example.com", []string{"example.com", "com"}},
		{"a.b.example.com", []string{"a.b.example.com", "b.example.com", "example.com", "com"}},
		// RFC 9989 §4.10.1 step 5: 8 or more labels → jump to 7.
		{"a.b.c.d.e.f.g.h.i.example.com", []string{
			"a.b.c.d.e.f.g.h.i.example.com", "e.f.g.h.i.example.com", "f.g.h.i.example.com",
			"g.h.i.example.com", "h.i.example.com", "i.example.com", "example.com", "com"}},
		{"b.c.d.e.f.g.h.com", []string{ // exactly 8 labels
			"b.c.d.e.f.g.h.com", "c.d.e.f.g.h.com", "d.e.f.g.h.com", "e.f.g.h.com", "f.g.h.com", "g.h.com", "h.com", "com"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got := walk(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("walk(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if len(got) > maxWalk {
				t.Errorf("walk(%q) has %d names", tc.in, len(got))
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	base := func() *zone {
		z := newZone()
		z.add("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com")
		z.host("example.com").host("www.example.com")
		return z
	}
	spf := func(d string) SPFInput { return SPFInput{Result: "pass", Domain: d} }
	dkim := func(res, d string) []DKIMInput { return []DKIMInput{{Result: res, Domain: d, Selector: "s1"}} }
	type want struct {
		result, policyDomain, tag, orgDomain string
		requested, disposition               Policy
		spfAligned, dkimAligned              bool
		sampledOut, testing                  bool
		lookups                              int // -1: do not check
		reason                               string
	}
	tests := []struct {
		name string
		mode Mode
		zone func() *zone
		src  func(*zone) Source
		max  int
		in   Input
		want want
	}{
		{name: "pass via SPF only (relaxed)", zone: base,
			in:   Input{FromDomain: "example.com", SPF: spf("bounce.example.com"), DKIM: dkim("pass", "other.org")},
			want: want{result: "pass", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyNone, spfAligned: true, lookups: 3, reason: "spf bounce.example.com aligned"}},
		{name: "pass via DKIM only", zone: base,
			in:   Input{FromDomain: "example.com", SPF: SPFInput{Result: "fail", Domain: "example.com"}, DKIM: dkim("pass", "example.com")},
			want: want{result: "pass", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyNone, dkimAligned: true, lookups: 2}},
		{name: "fail: nothing aligned", zone: base,
			in:   Input{FromDomain: "example.com", SPF: spf("other.org"), DKIM: dkim("pass", "other.org")},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyReject, lookups: 2}},
		{name: "fail: aligned domain but DKIM failed", zone: base,
			in:   Input{FromDomain: "example.com", SPF: SPFInput{Result: "softfail", Domain: "example.com"}, DKIM: dkim("fail", "example.com")},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyReject, lookups: 2}},
		{name: "none: no record", zone: newZone,
			in:   Input{FromDomain: "example.net", SPF: spf("example.net")},
			want: want{result: "none", disposition: PolicyNone, lookups: 2, reason: "no DMARC record"}},
		{name: "none: only non-DMARC TXT at _dmarc", zone: func() *zone { return newZone().add("_dmarc.example.net", "v=spf1 -all") },
			in:   Input{FromDomain: "example.net"},
			want: want{result: "none", disposition: PolicyNone, lookups: 2}},
		{name: "subdomain inherits parent record through the tree walk: sp", zone: base,
			in:   Input{FromDomain: "a.b.example.com", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "sp", requested: PolicyQuarantine, disposition: PolicyQuarantine, lookups: 4}},
		{name: "RFC 7489: subdomain falls back to the PSL organizational domain", mode: ModeRFC7489, zone: base,
			in:   Input{FromDomain: "a.b.example.com", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "sp", requested: PolicyQuarantine, disposition: PolicyQuarantine, lookups: 2}},
		{name: "RFC 7489: intermediate record is not found", mode: ModeRFC7489,
			zone: func() *zone { return base().add("_dmarc.b.example.com", "v=DMARC1; p=none") },
			in:   Input{FromDomain: "a.b.example.com", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.com", tag: "sp", orgDomain: "example.com", requested: PolicyQuarantine, disposition: PolicyQuarantine, lookups: 2}},
		{name: "RFC 9989: an intermediate record without psd= does not govern; the organizational domain's does",
			zone: func() *zone { return base().add("_dmarc.b.example.com", "v=DMARC1; p=none") },
			in:   Input{FromDomain: "a.b.example.com", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.com", tag: "sp", orgDomain: "example.com", requested: PolicyQuarantine, disposition: PolicyQuarantine, lookups: 4}},
		{name: "RFC 9989: an intermediate psd=n record is the organizational domain and governs",
			zone: func() *zone { return base().add("_dmarc.b.example.com", "v=DMARC1; p=none; psd=n") },
			in:   Input{FromDomain: "a.b.example.com", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "b.example.com", tag: "sp", orgDomain: "b.example.com", requested: PolicyNone, disposition: PolicyNone, lookups: 2}},
		{name: "RFC 9989: organizational domain without a record: the PSD record governs",
			zone: func() *zone {
				return newZone().add("_dmarc.gov", "v=DMARC1; p=reject; psd=y").add("_dmarc.b.example.gov", "v=DMARC1; p=none")
			},
			in:   Input{FromDomain: "a.b.example.gov", SPF: spf("b.example.gov")},
			want: want{result: "pass", policyDomain: "gov", tag: "sp", orgDomain: "example.gov", requested: PolicyReject, disposition: PolicyNone, spfAligned: true, lookups: 4}},
		{name: "np for a non-existent subdomain",
			zone: func() *zone {
				return newZone().add("_dmarc.example.org", "v=DMARC1; p=none; np=reject").host("example.org")
			},
			in:   Input{FromDomain: "ghost.example.org", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.org", orgDomain: "example.org", tag: "np", requested: PolicyReject, disposition: PolicyReject, lookups: 5}},
		{name: "np not used for an existing subdomain",
			zone: func() *zone {
				return newZone().add("_dmarc.example.org", "v=DMARC1; p=none; np=reject").host("example.org").host("real.example.org")
			},
			in:   Input{FromDomain: "real.example.org", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.org", orgDomain: "example.org", tag: "sp", requested: PolicyNone, disposition: PolicyNone, lookups: 5}},
		{name: "np unknown without an existence source: sp",
			zone: func() *zone { return newZone().add("_dmarc.example.org", "v=DMARC1; p=none; np=reject") },
			src:  func(z *zone) Source { return txtOnly{z} },
			in:   Input{FromDomain: "ghost.example.org", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.org", orgDomain: "example.org", tag: "sp", requested: PolicyNone, disposition: PolicyNone, lookups: 4}},
		{name: "np: existence check fails, sp used",
			zone: func() *zone {
				z := newZone().add("_dmarc.example.org", "v=DMARC1; p=none; sp=quarantine; np=reject")
				z.existsFail["ghost.example.org"] = true
				return z
			},
			in:   Input{FromDomain: "ghost.example.org", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.org", orgDomain: "example.org", tag: "sp", requested: PolicyQuarantine, disposition: PolicyQuarantine, lookups: 5, reason: "existence check failed"}},
		{name: "RFC 7489 ignores np", mode: ModeRFC7489,
			zone: func() *zone { return newZone().add("_dmarc.example.org", "v=DMARC1; p=none; np=reject") },
			in:   Input{FromDomain: "ghost.example.org", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.org", orgDomain: "example.org", tag: "sp", requested: PolicyNone, disposition: PolicyNone, lookups: 2}},
		{name: "psd=y record at a public suffix: policy applies, org domain one below",
			zone: func() *zone { return newZone().add("_dmarc.gov", "v=DMARC1; p=reject; psd=y") },
			in:   Input{FromDomain: "agency.gov", SPF: spf("mail.agency.gov")},
			want: want{result: "pass", policyDomain: "gov", orgDomain: "agency.gov", tag: "sp", requested: PolicyReject, disposition: PolicyNone, spfAligned: true, lookups: 3}},
		{name: "psd=y: a sibling under the suffix does not align",
			zone: func() *zone { return newZone().add("_dmarc.gov", "v=DMARC1; p=reject; psd=y") },
			in:   Input{FromDomain: "agency.gov", SPF: spf("other.gov")},
			want: want{result: "fail", policyDomain: "gov", orgDomain: "agency.gov", tag: "sp", requested: PolicyReject, disposition: PolicyReject, lookups: 3}},
		{name: "RFC 7489: psd= unknown, record at a TLD not consulted", mode: ModeRFC7489,
			zone: func() *zone { return newZone().add("_dmarc.gov", "v=DMARC1; p=reject; psd=y") },
			in:   Input{FromDomain: "agency.gov", SPF: spf("other.gov")},
			want: want{result: "none", disposition: PolicyNone, lookups: 1}},
		{name: "t=y downgrades reject to quarantine",
			zone: func() *zone { return newZone().add("_dmarc.example.com", "v=DMARC1; p=reject; t=y") },
			in:   Input{FromDomain: "example.com", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyQuarantine, testing: true, lookups: 2}},
		{name: "RFC 7489 ignores t=y", mode: ModeRFC7489,
			zone: func() *zone { return newZone().add("_dmarc.example.com", "v=DMARC1; p=reject; t=y") },
			in:   Input{FromDomain: "example.com", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyReject, lookups: 1}},
		{name: "pct=0 samples every message out",
			zone: func() *zone { return newZone().add("_dmarc.example.com", "v=DMARC1; p=reject; pct=0") },
			in:   Input{FromDomain: "example.com", SPF: spf("other.org"), PctRoll: 0},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyQuarantine, sampledOut: true, lookups: 2}},
		{name: "pct=50, roll 49: applied",
			zone: func() *zone { return newZone().add("_dmarc.example.com", "v=DMARC1; p=reject; pct=50") },
			in:   Input{FromDomain: "example.com", SPF: spf("other.org"), PctRoll: 49},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyReject, lookups: 2}},
		{name: "pct=50, roll 50: sampled out",
			zone: func() *zone { return newZone().add("_dmarc.example.com", "v=DMARC1; p=reject; pct=50") },
			in:   Input{FromDomain: "example.com", SPF: spf("other.org"), PctRoll: 50},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyQuarantine, sampledOut: true, lookups: 2}},
		{name: "pct=50 quarantine sampled out: none", mode: ModeRFC7489,
			zone: func() *zone { return newZone().add("_dmarc.example.com", "v=DMARC1; p=quarantine; pct=50") },
			in:   Input{FromDomain: "example.com", SPF: spf("other.org"), PctRoll: 99},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyQuarantine, disposition: PolicyNone, sampledOut: true, lookups: 1}},
		{name: "p=none: pct and t=y change nothing and are not reported",
			zone: func() *zone { return newZone().add("_dmarc.example.com", "v=DMARC1; p=none; pct=10; t=y") },
			in:   Input{FromDomain: "example.com", SPF: spf("other.org"), PctRoll: 50},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyNone, disposition: PolicyNone, lookups: 2}},
		{name: "pct sampled out and t=y do not stack",
			zone: func() *zone { return newZone().add("_dmarc.example.com", "v=DMARC1; p=reject; pct=10; t=y") },
			in:   Input{FromDomain: "example.com", SPF: spf("other.org"), PctRoll: 50},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyQuarantine, sampledOut: true, testing: true, lookups: 2}},
		{name: "temperror on the policy lookup",
			zone: func() *zone { z := base(); z.temp["_dmarc.example.com"] = true; return z },
			in:   Input{FromDomain: "example.com", SPF: spf("example.com")},
			want: want{result: "temperror", disposition: PolicyNone, lookups: 1}},
		{name: "temperror on a parent during the walk",
			zone: func() *zone { z := base(); z.temp["_dmarc.example.com"] = true; return z },
			in:   Input{FromDomain: "mail.example.com", SPF: spf("mail.example.com")},
			want: want{result: "temperror", disposition: PolicyNone, lookups: 2}},
		{name: "temperror while finding the SPF domain's organizational domain",
			zone: func() *zone { z := base(); z.temp["_dmarc.bounce.example.com"] = true; return z },
			in:   Input{FromDomain: "example.com", SPF: spf("bounce.example.com")},
			want: want{result: "temperror", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyNone, lookups: 3}},
		{name: "that temperror does not matter when DKIM aligns",
			zone: func() *zone { z := base(); z.temp["_dmarc.bounce.example.com"] = true; return z },
			in:   Input{FromDomain: "example.com", SPF: spf("bounce.example.com"), DKIM: dkim("pass", "example.com")},
			want: want{result: "pass", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyNone, dkimAligned: true, lookups: 3}},
		{name: "multiple records at the author domain, none above",
			zone: func() *zone {
				return newZone().add("_dmarc.example.net", "v=DMARC1; p=reject", "v=DMARC1; p=none")
			},
			in:   Input{FromDomain: "example.net", SPF: spf("other.org")},
			want: want{result: "none", disposition: PolicyNone, lookups: 2, reason: "multiple DMARC records at _dmarc.example.net ignored"}},
		{name: "RFC 9989: multiple records discarded, walk goes on",
			zone: func() *zone {
				return base().add("_dmarc.sub.example.com", "v=DMARC1; p=none", "v=DMARC1; p=none; sp=none")
			},
			in:   Input{FromDomain: "sub.example.com", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "sp", requested: PolicyQuarantine, disposition: PolicyQuarantine, lookups: 3}},
		{name: "RFC 7489: multiple records end discovery", mode: ModeRFC7489,
			zone: func() *zone {
				return base().add("_dmarc.sub.example.com", "v=DMARC1; p=none", "v=DMARC1; p=none; sp=none")
			},
			in:   Input{FromDomain: "sub.example.com", SPF: spf("other.org")},
			want: want{result: "none", disposition: PolicyNone, lookups: 1, reason: "multiple DMARC records at _dmarc.sub.example.com"}},
		{name: "invalid p with rua: p=none",
			zone: func() *zone {
				return newZone().add("_dmarc.example.com", "v=DMARC1; p=bogus; rua=mailto:d@example.com")
			},
			in:   Input{FromDomain: "example.com", SPF: spf("other.org")},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyNone, disposition: PolicyNone, lookups: 2}},
		{name: "invalid p without rua: no DMARC processing",
			zone: func() *zone { return newZone().add("_dmarc.example.com", "v=DMARC1; p=bogus") },
			in:   Input{FromDomain: "example.com", SPF: spf("other.org")},
			want: want{result: "none", policyDomain: "example.com", disposition: PolicyNone, lookups: 1}},
		{name: "duplicate tag: permerror",
			zone: func() *zone { return newZone().add("_dmarc.example.com", "v=DMARC1; p=reject; p=none") },
			in:   Input{FromDomain: "example.com", SPF: spf("other.org")},
			want: want{result: "permerror", policyDomain: "example.com", disposition: PolicyNone, lookups: 1}},
		{name: "strict DKIM alignment refuses a subdomain",
			zone: func() *zone { return newZone().add("_dmarc.example.com", "v=DMARC1; p=reject; adkim=s; aspf=s") },
			in:   Input{FromDomain: "example.com", SPF: spf("bounce.example.com"), DKIM: dkim("pass", "mail.example.com")},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyReject, lookups: 2}},
		{name: "strict alignment: case and trailing dot do not matter",
			zone: func() *zone { return newZone().add("_dmarc.example.com", "v=DMARC1; p=reject; adkim=s; aspf=s") },
			in:   Input{FromDomain: "example.com", DKIM: dkim("PASS", "Example.COM.")},
			want: want{result: "pass", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyNone, dkimAligned: true, lookups: 2}},
		{name: "lookup limit reached: permerror", max: 2,
			zone: base,
			in:   Input{FromDomain: "a.b.c.example.com", SPF: spf("a.b.c.example.com")},
			want: want{result: "permerror", disposition: PolicyNone, lookups: 2}},
		{name: "lookup limit during alignment: permerror", max: 3,
			zone: base,
			in:   Input{FromDomain: "example.com", SPF: spf("x.y.example.com")},
			want: want{result: "permerror", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyNone, lookups: 3}},
		{name: "invalid author domain", zone: base,
			in:   Input{FromDomain: "bad..example.com"},
			want: want{result: "permerror", disposition: PolicyNone, lookups: 0}},
		{name: "empty SPF domain never aligns", zone: base,
			in:   Input{FromDomain: "example.com", SPF: SPFInput{Result: "pass"}},
			want: want{result: "fail", policyDomain: "example.com", orgDomain: "example.com", tag: "p", requested: PolicyReject, disposition: PolicyReject, lookups: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			z := tc.zone()
			var src Source = z
			if tc.src != nil {
				src = tc.src(z)
			}
			e := &Evaluator{Mode: tc.mode, MaxLookups: tc.max}
			got := e.Evaluate(tc.in, src)
			w := tc.want
			if got.Result != w.result || got.PolicyDomain != w.policyDomain || got.PolicyTag != w.tag ||
				got.OrgDomain != w.orgDomain || got.RequestedPolicy != w.requested || got.Disposition != w.disposition ||
				got.SPFAligned != w.spfAligned || got.DKIMAligned != w.dkimAligned ||
				got.SampledOut != w.sampledOut || got.Testing != w.testing || (w.lookups >= 0 && got.Lookups != w.lookups) {
				t.Errorf("got  %+v\nwant %+v", got, w)
			}
			if w.reason != "" && !strings.Contains(got.Reason, w.reason) {
				t.Errorf("reason %q, want it to contain %q", got.Reason, w.reason)
			}
			if got.Result != "pass" && got.Result != "fail" && got.Disposition != PolicyNone {
				t.Errorf("disposition %q on %s", got.Disposition, got.Result)
			}
			if len(got.DKIM) != len(tc.in.DKIM) {
				t.Errorf("DKIM report has %d entries, input %d", len(got.DKIM), len(tc.in.DKIM))
			}
			for _, d := range got.DKIM {
				if d.Aligned && !got.DKIMAligned {
					t.Errorf("signature %s aligned but DKIMAligned false", d.Domain)
				}
			}
			if got.Result == "" || got.Reason == "" && got.Result != "fail" {
				t.Errorf("empty result or reason: %+v", got)
			}
		})
	}
}

// TestEvaluateDeterministic: same input, same result, whatever order the
// walks run in.
func TestEvaluateDeterministic(t *testing.T) {
	t.Parallel()
	z := newZone().add("_dmarc.example.com", "v=DMARC1; p=reject")
	in := Input{FromDomain: "mail.example.com", SPF: SPFInput{Result: "pass", Domain: "b.example.com"},
		DKIM: []DKIMInput{{Result: "pass", Domain: "other.org", Selector: "a"}, {Result: "pass", Domain: "c.example.com", Selector: "b"}}}
	e := &Evaluator{}
	first := e.Evaluate(in, z)
	for range 5 {
		if got := e.Evaluate(in, z); !reflect.DeepEqual(got, first) {
			t.Fatalf("got %+v, then %+v", first, got)
		}
	}
	if !first.DKIM[1].Aligned || first.DKIM[0].Aligned || first.Result != "pass" {
		t.Errorf("per-signature alignment wrong: %+v", first.DKIM)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	z := newZone().add("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com").host("example.com")
	in := Input{FromDomain: "news.example.com", SPF: SPFInput{Result: "pass", Domain: "bounce.example.com"},
		DKIM: []DKIMInput{{Result: "pass", Domain: "esp.example.net", Selector: "s"}}}
	e := &Evaluator{}
	b.ReportAllocs()
	for b.Loop() {
		if r := e.Evaluate(in, z); r.Result != "pass" {
			b.Fatal(r)
		}
	}
}

// FuzzEvaluate checks the invariants of the decision for arbitrary author
// and identifier domains: a known result token, bounded lookups, and no
// disposition without a fail.
func FuzzEvaluate(f *testing.F) {
	f.Add("a.b.example.com", "bounce.example.com", "example.com", uint8(0))
	f.Add("x.y.z.w.v.u.t.s.r.q.gov", "q.gov", "mail.r.q.gov", uint8(1))
	f.Add("ghost.example.org", "", "", uint8(2))
	z := newZone().
		add("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com").
		add("_dmarc.gov", "v=DMARC1; p=reject; psd=y").
		add("_dmarc.example.org", "v=DMARC1; p=none; np=reject; t=y; pct=50").
		add("_dmarc.q.gov", "v=DMARC1; p=quarantine", "v=DMARC1; p=none")
	z.temp["_dmarc.slow.example.com"] = true
	f.Fuzz(func(t *testing.T, from, spfDomain, dkimDomain string, roll uint8) {
		for _, mode := range []Mode{ModeRFC9989, ModeRFC7489} {
			e := &Evaluator{Mode: mode, MaxLookups: 12}
			r := e.Evaluate(Input{FromDomain: from, SPF: SPFInput{Result: "pass", Domain: spfDomain},
				DKIM: []DKIMInput{{Result: "pass", Domain: dkimDomain}}, PctRoll: int(roll)}, z)
			switch r.Result {
			case "pass", "fail", "none", "temperror", "permerror":
			default:
				t.Fatalf("result %q", r.Result)
			}
			if r.Lookups > 12 || r.Lookups < 0 {
				t.Fatalf("%d lookups", r.Lookups)
			}
			if r.Result != "fail" && r.Disposition != PolicyNone {
				t.Fatalf("disposition %q on %s", r.Disposition, r.Result)
			}
			if r.Result == "pass" && !r.SPFAligned && !r.DKIMAligned {
				t.Fatal("pass without an aligned identifier")
			}
		}
	})
}
