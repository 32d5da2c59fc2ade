package spftest

import (
	"context"
	"errors"
	"testing"

	"github.com/authmilter/authmilter/policy/spf"
	"github.com/authmilter/authmilter/resolver"
)

const sample = `---
description: Conventions
tests:
  one:
    spec: 4.4/1
    helo: mail.example.net
    host: 1.2.3.4
    mailfrom: foo@both.example.net
    result: [permerror, fail]
    explanation: DEFAULT
  two:
    helo: mail.example.net
    host: "CAFE:BABE::1"
    mailfrom: ""
    result: unknown
zonedata:
  both.example.net:
    - TXT:  v=spf1 -all
    - SPF:  v=spf1 +all
  spfonly.example.net:
    - SPF:  v=spf1 -all
    - TXT:  NONE
  copied.example.net:
    - SPF:  ['v=spf1 ', 'ip4:192.0.2.1', ' -all']
    - SPF:  []
  txttimeout.example.net:
    - SPF:  v=spf1 -all
    - TXT:  NONE
    - TIMEOUT
  partial.example.net:
    - TXT:  v=spf1 a -all
    - A:    192.0.2.1
    - TIMEOUT
  spfthentimeout.example.net:
    - SPF:  v=spf1 -all
    - TIMEOUT
  Dead.Example.Net:
    - TIMEOUT
  mx.example.net:
    - MX: [10, mail.example.net]
  alias.example.net:
    - CNAME: both.example.net
  4.3.2.1.in-addr.arpa:
    - PTR: mail.example.net
---
description: Second
tests:
  three:
    helo: h
    host: 192.0.2.1
    mailfrom: a@b.example
    result: error
zonedata: {}
`

func TestParseConventions(t *testing.T) {
	t.Parallel()
	scs, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) != 2 || len(scs[0].Tests) != 2 || len(scs[1].Tests) != 1 {
		t.Fatalf("got %d scenarios", len(scs))
	}
	one, two := scs[0].Tests[0], scs[0].Tests[1]
	if one.Name != "one" || one.Spec != "4.4/1" || one.Explanation != "DEFAULT" || !one.Accepts(spf.Fail) || !one.Accepts(spf.PermError) || one.Accepts(spf.Pass) {
		t.Errorf("case one = %+v", one)
	}
	if two.MailFrom != "" || two.Results[0] != spf.PermError || two.IP() == nil {
		t.Errorf("case two = %+v (unknown must map to permerror)", two)
	}
	if scs[1].Tests[0].Results[0] != spf.TempError {
		t.Errorf("error must map to temperror: %v", scs[1].Tests[0].Results)
	}

	z := scs[0].Zone
	ctx := context.Background()
	txt := func(name string) ([]string, error) { return z.LookupTXT(ctx, name) }
	if got, err := txt("both.example.net"); err != nil || len(got) != 1 || got[0] != "v=spf1 -all" {
		t.Errorf("TXT present: SPF must not be copied: %q %v", got, err)
	}
	if _, err := txt("spfonly.example.net"); !resolver.IsNotFound(err) {
		t.Errorf("TXT: NONE must suppress the copy: %v", err)
	}
	if got, err := txt("copied.example.net"); err != nil || len(got) != 2 || got[0] != "v=spf1 ip4:192.0.2.1 -all" || got[1] != "" {
		t.Errorf("SPF strings must be joined and copied, [] is an empty record: %q %v", got, err)
	}
	if _, err := txt("txttimeout.example.net"); !resolver.IsTemporary(err) {
		t.Errorf("TIMEOUT after TXT: NONE must time out TXT: %v", err)
	}
	if _, err := txt("spfthentimeout.example.net"); !resolver.IsTemporary(err) {
		t.Errorf("SPF copies come after TIMEOUT, so TXT must time out: %v", err)
	}
	if got, err := txt("partial.example.net"); err != nil || len(got) != 1 {
		t.Errorf("TXT listed before TIMEOUT must answer: %q %v", got, err)
	}
	if ips, err := z.LookupIP(ctx, "ip4", "partial.example.net"); err != nil || len(ips) != 1 {
		t.Errorf("A listed before TIMEOUT must answer: %v %v", ips, err)
	}
	if _, err := z.LookupMX(ctx, "partial.example.net"); !resolver.IsTemporary(err) {
		t.Errorf("MX not listed before TIMEOUT must time out: %v", err)
	}
	if _, err := z.LookupIP(ctx, "ip4", "dead.example.net"); !resolver.IsTemporary(err) {
		t.Errorf("bare TIMEOUT (owner names case-insensitive): %v", err)
	}
	if mx, err := z.LookupMX(ctx, "mx.example.net"); err != nil || len(mx) != 1 || mx[0].Pref != 10 || mx[0].Host != "mail.example.net" {
		t.Errorf("MX: %v %v", mx, err)
	}
	if got, err := txt("alias.example.net"); err != nil || len(got) != 1 || got[0] != "v=spf1 -all" {
		t.Errorf("CNAME must be followed: %q %v", got, err)
	}
	if names, err := z.LookupAddr(ctx, "1.2.3.4"); err != nil || len(names) != 1 {
		t.Errorf("PTR by reverse name: %v %v", names, err)
	}
	if _, err := txt("nowhere.example.net"); !resolver.IsNotFound(err) {
		t.Errorf("unknown names are NXDOMAIN: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, doc string }{
		{"not yaml", "description: [unclosed"},
		{"no result", "tests:\n  x:\n    host: 1.2.3.4\n"},
		{"bad host", "tests:\n  x:\n    host: nope\n    result: pass\n"},
		{"bad rr type", "tests: {}\nzonedata:\n  a.example:\n    - HINFO: x\n"},
		{"bad mx", "tests: {}\nzonedata:\n  a.example:\n    - MX: 10\n"},
		{"bad address", "tests: {}\nzonedata:\n  a.example:\n    - A: 1.2.3\n"},
		{"not a mapping", "- a\n- b\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse([]byte(tt.doc)); !errors.Is(err, ErrFormat) {
				t.Errorf("Parse: err = %v, want ErrFormat", err)
			}
		})
	}
}

func TestLoadSuites(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		file      string
		scenarios int
		cases     int
	}{
		{"../testdata/rfc7208-tests.yml", 16, 203},
		{"../testdata/rfc4408-tests.yml", 15, 191},
	} {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			scs, err := Load(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, sc := range scs {
				n += len(sc.Tests)
			}
			if len(scs) != tt.scenarios || n != tt.cases {
				t.Errorf("%d scenarios, %d cases; want %d, %d", len(scs), n, tt.scenarios, tt.cases)
			}
		})
	}
	if _, err := Load("../testdata/missing.yml"); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}
