package spf

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/authmilter/authmilter/resolver"
)

var fuzzRecords = []string{
	"v=spf1",
	"v=spf1 -all",
	"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx/24//64 ptr:example.com include:_spf.example.net exists:%{ir}.%{l1r-}.lp._spf.%{d2} ~all",
	"v=spf1 redirect=%{d}.d.spf.example.com. exp=why.%{d2}",
	"v=spf1 a:foo:bar/baz.example.com moo.cow-far_out=man:dog/cat default=+",
	"v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all",
	"v=spf1 a/24/64 ip4:1.2.3.4//32 exp= %{",
	"v=spf1 a:\u00efgarbage.example.net \x80a \x96all",
}

func FuzzParse(f *testing.F) {
	for _, r := range fuzzRecords {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, record string) {
		rec, err := Parse(record)
		if err != nil {
			return
		}
		// Rebuilding the record from what Parse kept must parse to the
		// same thing: nothing is lost or invented.
		var b strings.Builder
		b.WriteString("v=spf1")
		for _, d := range rec.Directives {
			if d.Text == "" || d.Prefix4 < 0 || d.Prefix4 > 32 || d.Prefix6 < 0 || d.Prefix6 > 128 {
				t.Fatalf("bad directive %+v from %q", d, record)
			}
			if d.DomainSpec != "" {
				if err := checkDomainSpec(d.DomainSpec); err != nil {
					t.Fatalf("accepted invalid domain-spec %q: %v", d.DomainSpec, err)
				}
			}
			b.WriteString(" " + d.Text)
		}
		if rec.Redirect != "" {
			b.WriteString(" redirect=" + rec.Redirect)
		}
		if rec.Exp != "" {
			b.WriteString(" exp=" + rec.Exp)
		}
		for _, m := range rec.Unknown {
			b.WriteString(" " + m.Name + "=" + m.Value)
		}
		again, err := Parse(b.String())
		if err != nil {
			t.Fatalf("rebuilt %q does not parse: %v", b.String(), err)
		}
		if len(again.Directives) != len(rec.Directives) || again.Redirect != rec.Redirect || again.Exp != rec.Exp || len(again.Unknown) != len(rec.Unknown) {
			t.Fatalf("rebuilt record differs: %q vs %q", b.String(), record)
		}
	})
}

func FuzzExpand(f *testing.F) {
	seeds := []string{"%{s}", "%{ir}.%{v}._spf.%{d2}", "%{L}", "%{l2r+-}.user.%{d2}", "%%%_%-", "%{d0}", "%{c} %{r} %{t}", "%{", "%x", "abc%", "%{p}.%{P}", "%{d99999999999999999999r.-+,/_=}"}
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	env := &macroEnv{
		sender: "strong-bad@email.example.com", local: "strong-bad",
		senderDomain: "email.example.com", domain: "email.example.com",
		helo: "JUMPIN'.JUPITER", ip: net.ParseIP("2001:db8::cb01"), receiver: "mx.example.org",
		now: time.Unix(0, 0), ptr: func() string { return "unknown" },
	}
	f.Fuzz(func(t *testing.T, s string, exp bool) {
		out, err := expandMacros(s, env, exp)
		checkErr := checkMacroString(s, exp)
		if err == nil && checkErr != nil {
			t.Fatalf("expanded %q but syntax check fails: %v", s, checkErr)
		}
		if err != nil && checkErr == nil && !strings.Contains(err.Error(), "longer than") {
			t.Fatalf("syntax ok but expansion failed for %q: %v", s, err)
		}
		if len(out) > maxExpansion {
			t.Fatalf("expansion of %d octets", len(out))
		}
		if err == nil && !exp && strings.ContainsAny(out, " \r\n") && !strings.Contains(s, "%_") {
			t.Fatalf("space from nowhere in %q -> %q", s, out)
		}
	})
}

// FuzzCheck evaluates arbitrary records against a small zone: no panic,
// and the §4.6.4 bounds hold whatever the record says.
func FuzzCheck(f *testing.F) {
	for _, r := range fuzzRecords {
		f.Add(r, "%{l} says %{c} at %{p}")
	}
	f.Add("v=spf1 include:example.com", "x")
	f.Add("v=spf1 redirect=example.com", "x")
	f.Fuzz(func(t *testing.T, record, expText string) {
		z := resolver.NewFake()
		z.AddTXT("example.com", record)
		z.AddTXT("_spf.example.net", record)
		z.AddTXT("why.example.com", expText)
		z.AddA("example.com", "192.0.2.1", "2001:db8::1")
		z.AddMX("example.com", 10, "example.com")
		z.PTR["192.0.2.10"] = []string{"example.com", "mail.example.com"}
		c := &Checker{Resolver: z, DefaultExplanation: "DEFAULT %{i}"}
		o := c.CheckMailFrom(context.Background(), net.ParseIP("192.0.2.10"), "h.example", "u@example.com")
		switch o.Result {
		case None, Neutral, Pass, Fail, SoftFail, TempError, PermError:
		default:
			t.Fatalf("result %q", o.Result)
		}
		if o.Lookups > 11 || o.VoidLookups > 3 {
			t.Fatalf("lookups %d, void %d", o.Lookups, o.VoidLookups)
		}
		for i := 0; i < len(o.Explanation); i++ {
			if c := o.Explanation[i]; c < 0x20 || c >= 0x7f {
				t.Fatalf("explanation byte 0x%02x", c)
			}
		}
		if o.Result == Fail && o.Explanation == "" {
			t.Fatalf("fail without explanation")
		}
	})
}
