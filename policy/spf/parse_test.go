package spf

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	type dir struct {
		q      Result
		mech   string
		spec   string
		p4, p6 int
		net    string
	}
	tests := []struct {
		name     string
		record   string
		wantErr  error
		dirs     []dir
		redirect string
		exp      string
		unknown  int
	}{
		{name: "empty", record: "v=spf1", dirs: nil},
		{name: "version case", record: "V=SpF1 -ALL", dirs: []dir{{q: Fail, mech: "all", p4: 32, p6: 128}}},
		{name: "trailing and double spaces", record: "v=spf1  a   -all ", dirs: []dir{
			{q: Pass, mech: "a", p4: 32, p6: 128}, {q: Fail, mech: "all", p4: 32, p6: 128}}},
		{name: "qualifiers", record: "v=spf1 +a ~mx ?ptr -exists:%{i}.x.example", dirs: []dir{
			{q: Pass, mech: "a", p4: 32, p6: 128}, {q: SoftFail, mech: "mx", p4: 32, p6: 128},
			{q: Neutral, mech: "ptr", p4: 32, p6: 128}, {q: Fail, mech: "exists", spec: "%{i}.x.example", p4: 32, p6: 128}}},
		{name: "dual cidr", record: "v=spf1 a/24//64 mx:example.com//0 a:foo:bar/baz.example.com", dirs: []dir{
			{q: Pass, mech: "a", p4: 24, p6: 64}, {q: Pass, mech: "mx", spec: "example.com", p4: 32, p6: 0},
			{q: Pass, mech: "a", spec: "foo:bar/baz.example.com", p4: 32, p6: 128}}},
		{name: "ip networks", record: "v=spf1 ip4:192.0.2.7/24 ip6:2001:DB8::1/32 ip4:0.0.0.0/0", dirs: []dir{
			{q: Pass, mech: "ip4", net: "192.0.2.0/24", p4: 32, p6: 128},
			{q: Pass, mech: "ip6", net: "2001:db8::/32", p4: 32, p6: 128},
			{q: Pass, mech: "ip4", net: "0.0.0.0/0", p4: 32, p6: 128}}},
		{name: "modifiers", record: "v=spf1 redirect=_spf.example.com exp=why.%{d} moo.cow-far_out=man:dog/cat default=+",
			redirect: "_spf.example.com", exp: "why.%{d}", unknown: 2},
		{name: "trailing dot domain", record: "v=spf1 include:o.spf.example.com.", dirs: []dir{
			{q: Pass, mech: "include", spec: "o.spf.example.com.", p4: 32, p6: 128}}},
		{name: "dash top label", record: "v=spf1 a:foo.example.xn--zckzah", dirs: []dir{
			{q: Pass, mech: "a", spec: "foo.example.xn--zckzah", p4: 32, p6: 128}}},
		{name: "macro end", record: "v=spf1 a:%{d}", dirs: []dir{{q: Pass, mech: "a", spec: "%{d}", p4: 32, p6: 128}}},

		{name: "not spf", record: "v=spf10", wantErr: ErrSyntax},
		{name: "unknown mechanism", record: "v=spf1 moo", wantErr: ErrSyntax},
		{name: "redirect as mechanism", record: "v=spf1 redirect:example.com", wantErr: ErrSyntax},
		{name: "modifier slash before equals", record: "v=spf1 moo.cow/far_out=man:dog/cat", wantErr: ErrSyntax},
		{name: "modifier name digit", record: "v=spf1 1up=foo", wantErr: ErrSyntax},
		{name: "empty modifier name", record: "v=spf1 =all", wantErr: ErrSyntax},
		{name: "all with dot", record: "v=spf1 -all.", wantErr: ErrSyntax},
		{name: "all with arg", record: "v=spf1 -all:x", wantErr: ErrSyntax},
		{name: "all with cidr", record: "v=spf1 -all/8", wantErr: ErrSyntax},
		{name: "ptr cidr", record: "v=spf1 ptr/0", wantErr: ErrSyntax},
		{name: "ptr empty", record: "v=spf1 ptr:", wantErr: ErrSyntax},
		{name: "include bare", record: "v=spf1 include", wantErr: ErrSyntax},
		{name: "include cidr", record: "v=spf1 include:example.com/24", wantErr: ErrSyntax},
		{name: "exists cidr", record: "v=spf1 exists:example.com/24", wantErr: ErrSyntax},
		{name: "a cidr 33", record: "v=spf1 a/33", wantErr: ErrSyntax},
		{name: "a cidr6 129", record: "v=spf1 a//129", wantErr: ErrSyntax},
		{name: "a bad dual", record: "v=spf1 a/24/64", wantErr: ErrSyntax},
		{name: "a leading zero cidr", record: "v=spf1 a/024", wantErr: ErrSyntax},
		{name: "a port", record: "v=spf1 a:example.com:8080", wantErr: ErrSyntax},
		{name: "a numeric top label", record: "v=spf1 a:111.222.33.44", wantErr: ErrSyntax},
		{name: "a only top label", record: "v=spf1 a:museum", wantErr: ErrSyntax},
		{name: "a only top label dot", record: "v=spf1 a:museum.", wantErr: ErrSyntax},
		{name: "a dash top label", record: "v=spf1 a:example.-com", wantErr: ErrSyntax},
		{name: "a empty", record: "v=spf1 a:", wantErr: ErrSyntax},
		{name: "ip4 short", record: "v=spf1 ip4:1.2.3", wantErr: ErrSyntax},
		{name: "ip4 leading zero", record: "v=spf1 ip4:1.2.3.04", wantErr: ErrSyntax},
		{name: "ip4 cidr leading zero", record: "v=spf1 ip4:1.2.3.4/032", wantErr: ErrSyntax},
		{name: "ip4 dual cidr", record: "v=spf1 ip4:1.2.3.4//32", wantErr: ErrSyntax},
		{name: "ip4 port", record: "v=spf1 ip4:1.2.3.4:8080", wantErr: ErrSyntax},
		{name: "ip4 bare", record: "v=spf1 ip4", wantErr: ErrSyntax},
		{name: "ip6 bad", record: "v=spf1 ip6::CAFE::BABE", wantErr: ErrSyntax},
		{name: "ip6 v4 literal", record: "v=spf1 ip6:1.2.3.4", wantErr: ErrSyntax},
		{name: "ip6 cidr 129", record: "v=spf1 ip6:::1/129", wantErr: ErrSyntax},
		{name: "redirect twice", record: "v=spf1 redirect=a.example redirect=a.example", wantErr: ErrSyntax},
		{name: "exp twice", record: "v=spf1 exp=a.example exp=b.example", wantErr: ErrSyntax},
		{name: "exp empty", record: "v=spf1 exp= -all", wantErr: ErrSyntax},
		{name: "exp not a domain", record: "v=spf1 exp=-all", wantErr: ErrSyntax},
		{name: "redirect empty", record: "v=spf1 redirect=", wantErr: ErrSyntax},
		{name: "control char", record: "v=spf1 a:ctrl.example.com\rptr -all", wantErr: ErrSyntax},
		{name: "newline", record: "v=spf1 ip4:192.0.2.5\n include:x.example", wantErr: ErrSyntax},
		{name: "nul", record: "v=spf1 a:foo.example.com\x00", wantErr: ErrSyntax},
		{name: "non ascii", record: "v=spf1 a:\u00efgarbage.example.net", wantErr: ErrSyntax},
		{name: "bad macro", record: "v=spf1 exists:%(ir).sbl.example.com", wantErr: ErrMacro},
		{name: "lone percent", record: "v=spf1 exists:foo%.sbl.example.com", wantErr: ErrMacro},
		{name: "exp-only macro", record: "v=spf1 -all exp=%{r}.example.com", wantErr: ErrMacro},
		{name: "unknown macro letter", record: "v=spf1 a:%{a}.example.com", wantErr: ErrMacro},
		{name: "unknown modifier bad macro", record: "v=spf1 foo=%abc", wantErr: ErrMacro},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec, err := Parse(tt.record)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want %v", tt.record, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.record, err)
			}
			if len(rec.Directives) != len(tt.dirs) {
				t.Fatalf("got %d directives, want %d: %+v", len(rec.Directives), len(tt.dirs), rec.Directives)
			}
			for i, w := range tt.dirs {
				g := rec.Directives[i]
				gotNet := ""
				if g.Network != nil {
					gotNet = g.Network.String()
				}
				if g.Qualifier != w.q || g.Mechanism != w.mech || g.DomainSpec != w.spec || g.Prefix4 != w.p4 || g.Prefix6 != w.p6 || gotNet != w.net {
					t.Errorf("directive %d = {%s %s %q /%d //%d %s}, want %+v", i, g.Qualifier, g.Mechanism, g.DomainSpec, g.Prefix4, g.Prefix6, gotNet, w)
				}
			}
			if rec.Redirect != tt.redirect || rec.Exp != tt.exp || len(rec.Unknown) != tt.unknown {
				t.Errorf("modifiers: redirect=%q exp=%q unknown=%v", rec.Redirect, rec.Exp, rec.Unknown)
			}
		})
	}
}

func TestDirectiveText(t *testing.T) {
	t.Parallel()
	rec, err := Parse("v=spf1 -include:_spf.Example.com ~ALL")
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Directives[0].Text; got != "-include:_spf.Example.com" {
		t.Errorf("Text = %q", got)
	}
	if got := rec.Directives[1].Mechanism; got != MechAll {
		t.Errorf("Mechanism = %q, want lower-cased all", got)
	}
	if got := rec.DNSTerms(); got != 1 {
		t.Errorf("DNSTerms = %d, want 1", got)
	}
}

func TestIsSPFRecord(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		txt  string
		want bool
	}{
		{"v=spf1", true},
		{"v=spf1 -all", true},
		{"V=SPF1 -all", true},
		{"v=spf10", false},
		{"v=spf1\t-all", false},
		{"v=spf1mx", false},
		{" v=spf1", false},
		{"spf2.0/pra", false},
		{"", false},
	} {
		t.Run(tt.txt, func(t *testing.T) {
			if got := IsSPFRecord(tt.txt); got != tt.want {
				t.Errorf("IsSPFRecord(%q) = %v", tt.txt, got)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	const rec = "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx/24 include:_spf.example.com exists:%{ir}.%{l1r-}.lp._spf.%{d2} ~all exp=explain._spf.%{d}"
	for b.Loop() {
		if _, err := Parse(rec); err != nil {
			b.Fatal(err)
		}
	}
}
