package dmarc

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/authmilter/authmilter/resolver"
)

func TestParseRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mode    Mode
		in      string
		wantErr error
		check   func(*Record) bool
		warns   int // -1: do not check
	}{
		{name: "minimal", in: "v=DMARC1; p=reject", warns: 0, check: func(r *Record) bool {
			return r.P == PolicyReject && r.HasP && !r.HasSP && r.ADKIM == "r" && r.ASPF == "r" && r.Pct == 100 &&
				r.PSD == "u" && !r.Testing && r.FO == "0" && r.RF == "afrf" && r.RI == 86400 && r.policyFor("sp") == PolicyReject &&
				r.policyFor("np") == PolicyReject
		}},
		{name: "all RFC 7489 tags", in: "v=DMARC1; p=quarantine; sp=none; adkim=s; aspf=S; pct=25; fo=1:D; rf=AFRF; ri=3600; rua=mailto:a@example.com!10m, mailto:b@example.com; ruf=https://r.example.net/x",
			warns: 0, check: func(r *Record) bool {
				return r.P == PolicyQuarantine && r.SP == PolicyNone && r.HasSP && r.ADKIM == "s" && r.ASPF == "s" && r.Pct == 25 &&
					r.FO == "1:d" && r.RF == "afrf" && r.RI == 3600 && len(r.RUA) == 2 && r.RUA[0].MaxSize == 10<<20 &&
					r.RUA[0].Address == "a@example.com" && len(r.RUF) == 1 && r.RUF[0].Scheme == "https"
			}},
		{name: "RFC 9989 tags", in: "v=DMARC1; p=none; sp=quarantine; np=reject; psd=n; t=y", warns: 0, check: func(r *Record) bool {
			return r.NP == PolicyReject && r.HasNP && r.PSD == "n" && r.Testing && r.policyFor("np") == PolicyReject
		}},
		{name: "np defaults to sp", in: "v=DMARC1; p=none; sp=quarantine", warns: 0, check: func(r *Record) bool {
			return r.policyFor("np") == PolicyQuarantine
		}},
		{name: "RFC 7489 mode ignores np, psd, t", mode: ModeRFC7489, in: "v=DMARC1; p=none; np=reject; psd=y; t=y", warns: 3,
			check: func(r *Record) bool { return !r.HasNP && r.PSD == "u" && !r.Testing && r.policyFor("np") == PolicyNone }},
		{name: "RFC 7489 mode: invalid np ignored", mode: ModeRFC7489, in: "v=DMARC1; p=reject; np=bogus", warns: 1,
			check: func(r *Record) bool { return r.P == PolicyReject }},
		{name: "whitespace and case", in: " V = DMARC1 ;\tP = Reject ; SP=NONE ; ", warns: 0,
			check: func(r *Record) bool { return r.P == PolicyReject && r.SP == PolicyNone }},
		{name: "stray backslashes", in: `v=DMARC1\; p=reject\;`, warns: 2, check: func(r *Record) bool { return r.P == PolicyReject }},
		{name: "missing p with rua: none", in: "v=DMARC1; rua=mailto:d@example.com", warns: 1,
			check: func(r *Record) bool { return r.P == PolicyNone && !r.HasP && r.Fallback }},
		{name: "invalid p with rua: none, sp dropped", in: "v=DMARC1; p=rejected; sp=reject; rua=mailto:d@example.com", warns: 1,
			check: func(r *Record) bool {
				return r.P == PolicyNone && !r.HasSP && r.Fallback && r.policyFor("sp") == PolicyNone
			}},
		{name: "invalid sp with rua: none", in: "v=DMARC1; p=reject; sp=x; rua=mailto:d@example.com", warns: 1,
			check: func(r *Record) bool { return r.P == PolicyNone && r.Fallback }},
		{name: "psd=y needs no p", in: "v=DMARC1; psd=y", warns: 1, check: func(r *Record) bool { return r.P == PolicyNone && r.PSD == "y" }},
		{name: "RFC 9989: no p, no rua: p=none", in: "v=DMARC1; pct=100", warns: 1, check: func(r *Record) bool { return r.P == PolicyNone && !r.HasP && r.Fallback }},
		{name: "RFC 9989: bare v=DMARC1: p=none", in: "v=DMARC1", warns: 1, check: func(r *Record) bool { return r.P == PolicyNone && r.Fallback }},
		{name: "RFC 7489: psd=y does not excuse p", mode: ModeRFC7489, in: "v=DMARC1; psd=y", wantErr: ErrNoPolicy},
		{name: "invalid values defaulted", in: "v=DMARC1; p=reject; adkim=x; aspf=; pct=101; fo=2; rf=x; ri=-1; t=maybe; psd=1", warns: 8,
			check: func(r *Record) bool {
				return r.ADKIM == "r" && r.ASPF == "r" && r.Pct == 100 && r.FO == "0" && r.RF == "afrf" && r.RI == 86400 && !r.Testing && r.PSD == "u"
			}},
		{name: "unusable URIs dropped", in: "v=DMARC1; p=none; rua=ftp://x.example, mailto:bad, mailto:ok@example.com!1x, mailto:ok@example.com", warns: 3,
			check: func(r *Record) bool { return len(r.RUA) == 1 && r.RUA[0].Raw == "mailto:ok@example.com" }},
		{name: "unknown tags ignored", in: "v=DMARC1; p=none; foo=bar; x=", warns: 2, check: func(r *Record) bool { return r.P == PolicyNone }},
		{name: "malformed tag-spec ignored", in: "v=DMARC1; p=none; 9x=1; =", warns: 2, check: func(r *Record) bool { return r.P == PolicyNone }},
		{name: "empty", in: "", wantErr: ErrNotDMARC},
		{name: "v not first", in: "p=reject; v=DMARC1", wantErr: ErrNotDMARC},
		{name: "version case-sensitive", in: "v=dmarc1; p=reject", wantErr: ErrNotDMARC},
		{name: "DMARC2", in: "v=DMARC2; p=reject", wantErr: ErrNotDMARC},
		{name: "SPF record", in: "v=spf1 -all", wantErr: ErrNotDMARC},
		{name: "RFC 7489: no p, no rua", mode: ModeRFC7489, in: "v=DMARC1; pct=100", wantErr: ErrNoPolicy},
		{name: "RFC 7489: no p, unusable rua", mode: ModeRFC7489, in: "v=DMARC1; rua=ftp://x.example", wantErr: ErrNoPolicy},
		{name: "RFC 7489: no p, usable rua", mode: ModeRFC7489, in: "v=DMARC1; rua=mailto:a@x.example", warns: 1, check: func(r *Record) bool { return r.P == PolicyNone && r.Fallback }},
		{name: "p without value", in: "v=DMARC1; p", wantErr: ErrNoPolicy},
		{name: "invalid np without rua", in: "v=DMARC1; p=reject; np=x", wantErr: ErrNoPolicy},
		{name: "duplicate tag", in: "v=DMARC1; p=reject; P=none", wantErr: ErrSyntax},
		{name: "duplicate v", in: "v=DMARC1; v=DMARC1; p=none", wantErr: ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mode := tc.mode
			if mode == "" {
				mode = ModeRFC9989
			}
			r, err := ParseRecordMode(tc.in, mode)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || r != nil {
					t.Fatalf("got %+v, %v; want %v", r, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Raw != tc.in {
				t.Errorf("Raw = %q", r.Raw)
			}
			if !tc.check(r) {
				t.Errorf("check failed: %+v", r)
			}
			if tc.warns >= 0 && len(r.Warnings) != tc.warns {
				t.Errorf("warnings %q, want %d", r.Warnings, tc.warns)
			}
		})
	}
}

func TestParseURI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want URI
		ok   bool
	}{
		{"mailto:a@example.com", URI{Raw: "mailto:a@example.com", Scheme: "mailto", Address: "a@example.com"}, true},
		{"MAILTO:a@example.com!5", URI{Raw: "MAILTO:a@example.com!5", Scheme: "mailto", Address: "a@example.com", MaxSize: 5}, true},
		{"mailto:a@example.com!2k", URI{Raw: "mailto:a@example.com!2k", Scheme: "mailto", Address: "a@example.com", MaxSize: 2048}, true},
		{"mailto:a@example.com!1g", URI{Raw: "mailto:a@example.com!1g", Scheme: "mailto", Address: "a@example.com", MaxSize: 1 << 30}, true},
		{"mailto:a@example.com!1t", URI{Raw: "mailto:a@example.com!1t", Scheme: "mailto", Address: "a@example.com", MaxSize: 1 << 40}, true},
		{"mailto:a%40b@example.com", URI{}, false}, // two @ after unescaping
		{"mailto:dmarc+x@example.com?subject=r", URI{Raw: "mailto:dmarc+x@example.com?subject=r", Scheme: "mailto", Address: "dmarc+x@example.com"}, true},
		{"https://r.example.net/x!1m", URI{Raw: "https://r.example.net/x!1m", Scheme: "https", Address: "https://r.example.net/x", MaxSize: 1 << 20}, true},
		{"mailto:a@example.com!99999999999999999999t", URI{}, false},
		{"mailto:a@example.com!", URI{}, false},
		{"mailto:Joe <a@example.com>", URI{}, false},
		{"mailto://example.com", URI{}, false},
		{"mailto:a@", URI{}, false},
		{"ftp://example.com", URI{}, false},
		{"a@example.com", URI{}, false},
		{"http:///path", URI{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseURI(tc.in)
			if (err == nil) != tc.ok || tc.ok && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseURI(%q) = %+v, %v; want %+v ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
	u, _ := ParseURI("mailto:d@Reports.Example.NET")
	if u.Host() != "reports.example.net" {
		t.Errorf("Host() = %q", u.Host())
	}
}

// TestResolverSource runs Evaluate through the shared resolver.Fake: TXT
// lookups, timeouts as temperror, and the RFC 9091 existence fallback for
// resolvers that do not tell NXDOMAIN from NODATA.
func TestResolverSource(t *testing.T) {
	t.Parallel()
	f := resolver.NewFake()
	f.AddTXT("_dmarc.example.com", "v=DMARC1; p=none; np=reject")
	f.AddA("example.com", "192.0.2.1")
	f.AddMX("mx-only.example.com", 10, "mx.example.com")
	f.Timeout["_dmarc.slow.example"] = true
	src := ResolverSource(context.Background(), f)
	if _, ok := src.(ExistenceSource); !ok {
		t.Fatal("ResolverSource does not implement ExistenceSource")
	}
	e := &Evaluator{}
	tests := []struct {
		from, result, tag string
	}{
		{"example.com", "fail", "p"},
		{"ghost.example.com", "fail", "np"},
		{"mx-only.example.com", "fail", "sp"},
		{"slow.example", "temperror", ""},
	}
	for _, tc := range tests {
		t.Run(tc.from, func(t *testing.T) {
			t.Parallel()
			got := e.Evaluate(Input{FromDomain: tc.from}, src)
			if got.Result != tc.result || got.PolicyTag != tc.tag {
				t.Errorf("got %+v", got)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := e.Evaluate(Input{FromDomain: "example.com"}, ResolverSource(ctx, f)); got.Result != "temperror" {
		t.Errorf("cancelled context: %+v", got)
	}
}

func TestReportDestination(t *testing.T) {
	t.Parallel()
	z := newZone().
		add("example.com._report._dmarc.reports.example.net", "v=DMARC1; rua=mailto:other@reports.example.net").
		add("example.org._report._dmarc.reports.example.net", "v=spf1 -all")
	z.temp["example.info._report._dmarc.reports.example.net"] = true
	u, err := ParseURI("mailto:d@reports.example.net")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		policy               string
		external, authorized bool
		override, err        bool
	}{
		{"example.com", true, true, true, false},
		{"example.org", true, false, false, false},
		{"example.info", true, false, false, true},
		{"sub.example.net", false, true, false, false},
	}
	for _, mode := range []Mode{ModeRFC9989, ModeRFC7489} {
		for _, tc := range tests {
			t.Run(string(mode)+" "+tc.policy, func(t *testing.T) {
				t.Parallel()
				if mode == ModeRFC9989 && tc.policy == "sub.example.net" {
					// Without records the walk makes every name its own
					// organizational domain.
					tc.external, tc.authorized = true, false
				}
				d := (&Evaluator{Mode: mode}).ReportDestination(tc.policy, u, z)
				if d.External != tc.external || d.Authorized != tc.authorized || (len(d.Override) > 0) != tc.override || (d.Err != nil) != tc.err {
					t.Errorf("got %+v", d)
				}
			})
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=DMARC1; p=reject", "v=DMARC1; p=none; sp=quarantine; np=reject; psd=n; t=y; adkim=s; aspf=r; pct=50; fo=0:1:d:s; rf=afrf; ri=3600",
		"v=DMARC1; rua=mailto:a@example.com!10m,https://x.example/r", `v=DMARC1\; p=reject\;`, "v=DMARC1; p", "v=DMARC1; p=a; p=b", "",
		"v = DMARC1\t;\tp\t=\treject\t;", "v=DMARC1; psd=y", "v=spf1 -all", "v=DMARC1; rua=mailto:%40@x!99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, mode := range []Mode{ModeRFC9989, ModeRFC7489} {
			r, err := ParseRecordMode(s, mode)
			if err != nil {
				if r != nil {
					t.Fatal("record and error")
				}
				if !errors.Is(err, ErrNotDMARC) && !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrNoPolicy) {
					t.Fatalf("unclassified error %v", err)
				}
				continue
			}
			if r.Raw != s || !strings.Contains(s, "DMARC1") {
				t.Fatalf("Raw %q", r.Raw)
			}
			if _, ok := parsePolicy(string(r.P)); !ok {
				t.Fatalf("P %q", r.P)
			}
			for _, p := range []string{"p", "sp", "np"} {
				if _, ok := parsePolicy(string(r.policyFor(p))); !ok {
					t.Fatalf("%s → %q", p, r.policyFor(p))
				}
			}
			if r.ADKIM != "r" && r.ADKIM != "s" || r.ASPF != "r" && r.ASPF != "s" || r.Pct < 0 || r.Pct > 100 ||
				!strings.Contains("ynu", r.PSD) || len(r.PSD) != 1 || r.RI < 0 {
				t.Fatalf("bad field in %+v", r)
			}
			if mode == ModeRFC7489 && (r.HasNP || r.Testing || r.PSD != "u") {
				t.Fatalf("RFC 9989 tag honoured in RFC 7489 mode: %+v", r)
			}
			for _, u := range append(append([]URI(nil), r.RUA...), r.RUF...) {
				if u.Scheme != "mailto" && u.Scheme != "http" && u.Scheme != "https" || u.Address == "" {
					t.Fatalf("bad URI %+v", u)
				}
			}
		}
	})
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"mailto:a@example.com!10m", "https://x.example/r?x=1!1", "mailto:a%40b@c", "ftp://x", "mailto:a@b!18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		if u.Raw != s || u.Scheme == "" || u.Address == "" {
			t.Fatalf("%+v", u)
		}
		if u.Scheme == "mailto" && !validDomain(u.Host()) {
			t.Fatalf("mailto host %q", u.Host())
		}
	})
}

func FuzzLoadPSL(f *testing.F) {
	f.Add("com\n*.ck\n!www.ck\n// ===BEGIN ICANN DOMAINS===\n公司.cn\n", "a.www.ck")
	f.Add("*.a\n!b.a\nb.a\n", "x.b.a")
	f.Fuzz(func(t *testing.T, list, domain string) {
		l, err := LoadPSL(strings.NewReader(list))
		if err != nil {
			if !errors.Is(err, ErrPSL) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		d := strings.ToLower(domain)
		if !validDomain(d) {
			return
		}
		s, _ := l.PublicSuffix(d)
		if s == "" || s != d && !strings.HasSuffix(d, "."+s) {
			t.Fatalf("PublicSuffix(%q) = %q", d, s)
		}
		if reg := RegistrableDomain(l, d); reg != "" && reg != d && !strings.HasSuffix(d, "."+reg) {
			t.Fatalf("RegistrableDomain(%q) = %q", d, reg)
		}
	})
}
