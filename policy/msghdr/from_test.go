package msghdr

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// fromWant is what ParseFrom must report for one field value.
type fromWant struct {
	domains  []string
	problems []Problem
}

// conformanceWant gives our result for every row of the transcribed
// OpenDMARC and Mail::DMARC From tables. deviation explains rows where we
// report differently from the source implementation, by design.
var conformanceWant = map[string]struct {
	fromWant
	deviation string
}{
	// opendmarc-from-domain.tsv
	`Joe Johnson <joe@joe.com>`:                {fromWant{[]string{"joe.com"}, nil}, ""},
	`"Johnson, Joe <joe@joe.com>" joe@joe.com`: {fromWant{[]string{"joe.com"}, []Problem{ProblemSyntax}}, "a display name without <> is not RFC 5322; same domain, flagged"},
	`"Joe Johnson" <joe@joe.com>`:              {fromWant{[]string{"joe.com"}, nil}, ""},
	`(Joe Johnson) joe@joe.com`:                {fromWant{[]string{"joe.com"}, nil}, ""},
	`joe@joe.com`:                              {fromWant{[]string{"joe.com"}, nil}, ""},
	`<<<><joe@joe.com>>>`:                      {fromWant{[]string{"joe.com"}, []Problem{ProblemSyntax, ProblemUnbalanced, ProblemNoAddress}}, "flagged: stray brackets and a null address"},
	`Joe Johnson <joe@joe.com>, ace@ace.com`:   {fromWant{[]string{"joe.com", "ace.com"}, []Problem{ProblemMultipleAddresses, ProblemMultipleDomains}}, "OpenDMARC takes the first address; RFC 7489 §6.6.1 needs both"},
	`joe@joe.com, ace@ace.com`:                 {fromWant{[]string{"joe.com", "ace.com"}, []Problem{ProblemMultipleAddresses, ProblemMultipleDomains}}, "OpenDMARC takes the first address; RFC 7489 §6.6.1 needs both"},
	`Mail From:<joe@joe.com>`:                  {fromWant{[]string{"joe.com"}, []Problem{ProblemGroup, ProblemSyntax}}, "parsed as an unterminated group, flagged"},
	`"Mandel, Bob" <joe@joe.com>`:              {fromWant{[]string{"joe.com"}, nil}, ""},
	`(,) joe@joe.com`:                          {fromWant{[]string{"joe.com"}, nil}, ""},
	`"( bob@bob.com)" joe@joe.com`:             {fromWant{[]string{"bob.com", "joe.com"}, []Problem{ProblemSyntax, ProblemMultipleDomains}}, "invalid syntax: the quoted address is listed too, since a lenient reader may show it"},
	`From: Davide D'Marco <user@blah.com>`:     {fromWant{[]string{"blah.com"}, []Problem{ProblemGroup, ProblemSyntax}}, "the 'From:' prefix parses as an unterminated group, flagged"},
	// mail-dmarc-from-domain.tsv
	`From: Sample User <user@example.com>`:                      {fromWant{[]string{"example.com"}, []Problem{ProblemGroup, ProblemSyntax}}, "the 'From:' prefix parses as an unterminated group, flagged"},
	`From: Sample Middle User <user@example.com>`:               {fromWant{[]string{"example.com"}, []Problem{ProblemGroup, ProblemSyntax}}, "the 'From:' prefix parses as an unterminated group, flagged"},
	`From: "Sample User" <user@example.com>`:                    {fromWant{[]string{"example.com"}, []Problem{ProblemGroup, ProblemSyntax}}, "the 'From:' prefix parses as an unterminated group, flagged"},
	`From: "Sample Middle User" <user@example.com>`:             {fromWant{[]string{"example.com"}, []Problem{ProblemGroup, ProblemSyntax}}, "the 'From:' prefix parses as an unterminated group, flagged"},
	`Sample User <user@example.com>`:                            {fromWant{[]string{"example.com"}, nil}, ""},
	`user@example.com`:                                          {fromWant{[]string{"example.com"}, nil}, ""},
	`<user@example.com>`:                                        {fromWant{[]string{"example.com"}, nil}, ""},
	` <user@example.com > `:                                     {fromWant{[]string{"example.com"}, nil}, ""},
	`Sample User <user@example.com>,Sample2<user@example2.com>`: {fromWant{[]string{"example.com", "example2.com"}, []Problem{ProblemMultipleAddresses, ProblemMultipleDomains}}, "Mail::DMARC gives no domain; we list both and flag them"},
	`From: "Test 1.1.5"`:                                        {fromWant{nil, []Problem{ProblemGroup, ProblemNoAddress, ProblemSyntax, ProblemEmptyGroup}}, ""},
}

func readTSV(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		if first { // header line
			first = false
			continue
		}
		if sc.Text() == "" {
			continue
		}
		rows = append(rows, strings.Split(sc.Text(), "\t"))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestParseFromConformance(t *testing.T) {
	t.Parallel()
	files := []struct {
		name              string
		rows              int
		valueCol, wantCol int
	}{
		{"testdata/opendmarc-from-domain.tsv", 13, 1, 2},
		{"testdata/mail-dmarc-from-domain.tsv", 10, 0, 1},
	}
	total := 0
	for _, f := range files {
		rows := readTSV(t, f.name)
		if len(rows) != f.rows {
			t.Fatalf("%s: %d rows, want %d", f.name, len(rows), f.rows)
		}
		for i, row := range rows {
			value, theirs := row[f.valueCol], row[f.wantCol]
			total++
			t.Run(f.name[9:]+"/"+strings.Fields(row[0] + " x")[0]+"_"+string(rune('a'+i)), func(t *testing.T) {
				want, ok := conformanceWant[value]
				if !ok {
					t.Fatalf("no expectation for row %q", value)
				}
				got := ParseFrom([]string{value})
				checkFrom(t, got, want.fromWant)
				// Every domain the source implementation finds must be
				// among ours; where we differ, the table says why.
				if !strings.HasPrefix(theirs, "(none") && !slices.Contains(got.Domains, theirs) {
					t.Errorf("their domain %q missing from %q", theirs, got.Domains)
				}
				same := slices.Equal(got.Domains, []string{theirs}) ||
					(strings.HasPrefix(theirs, "(none") && len(got.Domains) == 0)
				if !same && want.deviation == "" {
					t.Errorf("differs from source (%q vs %q) without a documented deviation", got.Domains, theirs)
				}
			})
		}
	}
	if total != 23 {
		t.Errorf("ran %d conformance rows, want 23", total)
	}
}

func checkFrom(t *testing.T, got Authors, want fromWant) {
	t.Helper()
	if !slices.Equal(got.Domains, want.domains) {
		t.Errorf("Domains = %q, want %q", got.Domains, want.domains)
	}
	if !slices.Equal(got.Problems, want.problems) {
		t.Errorf("Problems = %q, want %q", got.Problems, want.problems)
	}
}

func TestParseFromHostile(t *testing.T) {
	t.Parallel()
	P := func(p ...Problem) []Problem { return p }
	D := func(d ...string) []string { return d }
	tests := []struct {
		name  string
		value string
		want  fromWant
		addrs []string // Address of each List entry, when checked
	}{
		{"quoted display with address", `"bank.example <ceo@bank.example>" <evil@attacker.example>`, fromWant{D("attacker.example"), P(ProblemDisplayNameDomain)}, []string{"evil@attacker.example"}},
		{"display with address, same domain", `"ceo@bank.example" <ceo@bank.example>`, fromWant{D("bank.example"), nil}, nil},
		{"bare address then angle, no >", `ceo@bank.example <evil@attacker.example`, fromWant{D("bank.example", "attacker.example"), P(ProblemSyntax, ProblemUnbalanced, ProblemMultipleAddresses, ProblemMultipleDomains)}, nil},
		{"two bare addresses", `ceo@bank.example evil@attacker.example`, fromWant{D("bank.example", "attacker.example"), P(ProblemSyntax, ProblemMultipleAddresses, ProblemMultipleDomains)}, []string{"ceo@bank.example", "evil@attacker.example"}},
		{"two angle addresses", `<a@x.example> <b@y.example>`, fromWant{D("x.example", "y.example"), P(ProblemSyntax, ProblemMultipleAddresses, ProblemMultipleDomains)}, nil},
		{"angle then bare", `<evil@attacker.example>ceo@bank.example`, fromWant{D("attacker.example", "bank.example"), P(ProblemSyntax, ProblemMultipleAddresses, ProblemMultipleDomains)}, nil},
		{"stray >", `evil@attacker.example>`, fromWant{D("attacker.example"), P(ProblemSyntax, ProblemUnbalanced)}, nil},
		{"unterminated quote hides addresses", `"unterminated <ceo@bank.example> evil@attacker.example`, fromWant{D("bank.example", "attacker.example"), P(ProblemUnbalanced, ProblemNoAddress, ProblemMultipleDomains)}, nil},
		{"unterminated comment", `evil@attacker.example (ceo@bank.example`, fromWant{D("attacker.example", "bank.example"), P(ProblemUnbalanced, ProblemMultipleDomains)}, nil},
		{"encoded word B display", `=?utf-8?B?Y2VvQGJhbmsuZXhhbXBsZQ==?= <evil@attacker.example>`, fromWant{D("attacker.example"), P(ProblemDisplayNameDomain)}, nil},
		{"encoded word Q with @ display", `=?utf-8?Q?ceo@bank.example?= <evil@attacker.example>`, fromWant{D("attacker.example"), P(ProblemDisplayNameDomain)}, nil},
		{"encoded word alone", `=?utf-8?Q?ceo@bank.example?=`, fromWant{nil, P(ProblemNoAddress)}, nil},
		{"encoded word as local part", `=?utf-8?Q?ceo?=@bank.example`, fromWant{D("bank.example"), P(ProblemEncodedWord, ProblemSyntax)}, nil},
		{"encoded word in broken field not scanned", `=?utf-8?Q?a@bank.example?= <evil@attacker.example`, fromWant{D("attacker.example"), P(ProblemDisplayNameDomain, ProblemUnbalanced, ProblemSyntax)}, nil},
		{"comment after address", `evil@attacker.example (ceo@bank.example)`, fromWant{D("attacker.example"), nil}, nil},
		{"comment before address", `(ceo@bank.example) evil@attacker.example`, fromWant{D("attacker.example"), nil}, nil},
		{"nested comment with escape", `(nested (ceo@bank.example) \) x) evil@attacker.example`, fromWant{D("attacker.example"), nil}, nil},
		{"RFC 5322 A.5 comments everywhere", `Pete(A nice \) chap) <pete(his account)@silly.test(his host)>`, fromWant{D("silly.test"), nil}, []string{"pete@silly.test"}},
		{"source route", `<@relay.example,@other.example:user@real.example>`, fromWant{D("real.example"), P(ProblemRoute)}, []string{"user@real.example"}},
		{"route without colon", `<@evil.example>`, fromWant{D("evil.example"), P(ProblemRoute, ProblemSyntax, ProblemNoAddress)}, nil},
		{"quoted local part", `"user name"@example.com`, fromWant{D("example.com"), nil}, []string{`"user name"@example.com`}},
		{"quoted local with @ and <", `"a@b.example <x>"@example.com`, fromWant{D("example.com"), nil}, nil},
		{"obs-local-part quoted words", `"a"."b"@example.com`, fromWant{D("example.com"), P(ProblemObsolete)}, nil},
		{"obs CFWS in address", `user @ example . com`, fromWant{D("example.com"), P(ProblemObsolete)}, []string{"user@example.com"}},
		{"domain literal", `user@[192.0.2.1]`, fromWant{nil, P(ProblemDomainLiteral)}, nil},
		{"IPv6 domain literal", `<user@[IPv6:2001:db8::1]>`, fromWant{nil, P(ProblemDomainLiteral)}, nil},
		{"dotted quad as domain", `user@192.0.2.1`, fromWant{nil, P(ProblemBadDomain)}, nil},
		{"trailing dot", `user@example.com.`, fromWant{D("example.com"), P(ProblemTrailingDot)}, nil},
		{"double dot", `user@example..com`, fromWant{nil, P(ProblemBadDomain)}, nil},
		{"upper case", `user@EXAMPLE.Com`, fromWant{D("example.com"), nil}, []string{"user@EXAMPLE.Com"}},
		{"U-label", `user@bücher.example`, fromWant{D("xn--bcher-kva.example"), nil}, nil},
		{"A-label", `user@XN--BCHER-KVA.example`, fromWant{D("xn--bcher-kva.example"), nil}, nil},
		{"bad A-label", `user@xn--zz.example`, fromWant{nil, P(ProblemBadIDN)}, nil},
		{"disallowed code point", "user@a\u2615\u200d.example", fromWant{nil, P(ProblemBadIDN)}, nil},
		{"fullwidth", `user@ＥＸＡＭＰＬＥ．com`, fromWant{D("example.com"), nil}, nil},
		{"EAI address", `用户@例子.广告`, fromWant{D("xn--fsqu00a.xn--4rr70v"), nil}, nil},
		{"underscore", `user@exa_mple.com`, fromWant{nil, P(ProblemBadDomain)}, nil},
		{"hyphen label", `user@-bad-.example`, fromWant{nil, P(ProblemBadDomain)}, nil},
		{"label too long", "user@" + strings.Repeat("a", 64) + ".example", fromWant{nil, P(ProblemBadDomain)}, nil},
		{"trailing dot in local part", `user.@example.com`, fromWant{D("example.com"), P(ProblemLocalPartDots)}, []string{"user.@example.com"}},
		{"double dot in local part", `<a..b@example.com>`, fromWant{D("example.com"), P(ProblemLocalPartDots)}, nil},
		{"no domain", `user`, fromWant{nil, P(ProblemNoDomain)}, nil},
		{"angle without domain", `Joe <joe>`, fromWant{nil, P(ProblemNoDomain)}, nil},
		{"at without domain", `joe@`, fromWant{nil, P(ProblemNoDomain, ProblemSyntax)}, nil},
		{"at without local", `@example.com`, fromWant{D("example.com"), P(ProblemSyntax)}, nil},
		{"two ats", `a@b@c.example`, fromWant{D("b", "c.example"), P(ProblemSyntax, ProblemMultipleAddresses, ProblemMultipleDomains)}, nil},
		{"null address", `<>`, fromWant{nil, P(ProblemNoAddress)}, nil},
		{"empty", ``, fromWant{nil, P(ProblemEmptyField)}, nil},
		{"comment only", "  (comment only)  ", fromWant{nil, P(ProblemEmptyField)}, nil},
		{"name only", `Sample User`, fromWant{nil, P(ProblemNoAddress)}, nil},
		{"group", `Group: a@a.example, b@b.example;`, fromWant{D("a.example", "b.example"), P(ProblemGroup, ProblemMultipleAddresses, ProblemMultipleDomains)}, nil},
		{"empty group", `Undisclosed recipients:;`, fromWant{nil, P(ProblemGroup, ProblemEmptyGroup, ProblemNoAddress)}, nil},
		{"nested group", `A: B: b@b.example;;`, fromWant{D("b.example"), P(ProblemGroup, ProblemSyntax)}, nil},
		{"same address twice", `a@x.example, a@x.example`, fromWant{D("x.example"), P(ProblemMultipleAddresses)}, []string{"a@x.example", "a@x.example"}},
		{"empty list element", `a@x.example,,b@x.example`, fromWant{D("x.example"), P(ProblemObsolete, ProblemMultipleAddresses)}, nil},
		{"CRLF folding", "Joe\r\n <user@example.com>\r\n\t(folded)", fromWant{D("example.com"), nil}, nil},
		{"LF folding", "Joe\n <user@example.com>", fromWant{D("example.com"), nil}, nil},
		{"header injection", "user@example.com\r\nBcc: x@y.example", fromWant{D("example.com", "y.example"), P(ProblemControl, ProblemSyntax, ProblemGroup, ProblemMultipleAddresses, ProblemMultipleDomains)}, nil},
		{"NUL", "user@exa\x00mple.com", fromWant{D("exa"), P(ProblemControl, ProblemSyntax, ProblemNoDomain, ProblemMultipleAddresses)}, nil},
		{"invalid UTF-8 domain", "user@\xff\xfe.example", fromWant{nil, P(ProblemBadUTF8, ProblemBadIDN)}, nil},
		{"Latin-1 display name", "J\xf6rg <j@example.com>", fromWant{D("example.com"), P(ProblemBadUTF8)}, nil},
		{"obs-phrase with dot", `John Q. Public <jqp@example.com>`, fromWant{D("example.com"), nil}, nil},
		{"encoded display iso-2022-jp", `=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?= <x@example.com>`, fromWant{D("example.com"), nil}, nil},
		{"quoted domain part", `user@ex"ample".com`, fromWant{D("ex"), P(ProblemSyntax, ProblemNoAddress)}, nil},
		{"header name prefix", `From: a@example.com`, fromWant{D("example.com"), P(ProblemGroup, ProblemSyntax)}, nil},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d hostile cases", len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ParseFrom([]string{tc.value})
			checkFrom(t, got, tc.want)
			if got.Fields != 1 {
				t.Errorf("Fields = %d", got.Fields)
			}
			if tc.addrs != nil {
				var addrs []string
				for _, a := range got.List {
					addrs = append(addrs, a.Address)
				}
				if !slices.Equal(addrs, tc.addrs) {
					t.Errorf("addresses = %q, want %q", addrs, tc.addrs)
				}
			}
		})
	}
}

func TestParseFromFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []string
		want   fromWant
		fields int
	}{
		{"none", nil, fromWant{nil, []Problem{ProblemNoFrom}}, 0},
		{"one clean", []string{"Joe <joe@example.com>"}, fromWant{[]string{"example.com"}, nil}, 1},
		{"two same domain", []string{"a@example.com", "b@EXAMPLE.com"}, fromWant{[]string{"example.com"}, []Problem{ProblemMultipleFields}}, 2},
		{"two domains", []string{"a@example.com", "b@bücher.example"}, fromWant{[]string{"example.com", "xn--bcher-kva.example"}, []Problem{ProblemMultipleFields, ProblemMultipleDomains}}, 2},
		{"U-label and A-label compare equal", []string{"a@Bücher.example, b@xn--bcher-kva.EXAMPLE"}, fromWant{[]string{"xn--bcher-kva.example"}, []Problem{ProblemMultipleAddresses}}, 1},
		{"second field empty", []string{"a@example.com", ""}, fromWant{[]string{"example.com"}, []Problem{ProblemMultipleFields, ProblemEmptyField}}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ParseFrom(tc.values)
			checkFrom(t, got, tc.want)
			if got.Fields != tc.fields {
				t.Errorf("Fields = %d, want %d", got.Fields, tc.fields)
			}
		})
	}
}

func TestParseFromAuthorParts(t *testing.T) {
	t.Parallel()
	got := ParseFrom([]string{`"Doe, \"J\"" (x) <"j d"(c)@Bücher.EXAMPLE.>`})
	want := Author{Address: `"j d"@Bücher.EXAMPLE.`, Local: `"j d"`, Domain: "xn--bcher-kva.example", Display: `Doe, "J"`}
	if len(got.List) != 1 || got.List[0] != want {
		t.Fatalf("List = %+v, want [%+v]", got.List, want)
	}
	if !slices.Equal(got.Problems, []Problem{ProblemTrailingDot}) {
		t.Errorf("Problems = %q", got.Problems)
	}
}

func TestProblemDescription(t *testing.T) {
	t.Parallel()
	for p, s := range problemText {
		if s == "" || p.Description() != s || p.String() != string(p) {
			t.Errorf("%s: bad description %q", p, p.Description())
		}
	}
	if d := Problem("nope").Description(); !strings.Contains(d, "nope") {
		t.Errorf("unknown problem description %q", d)
	}
}

// TestParseFromLarge checks that a 256 KiB hostile From field is handled
// (the benchmark below shows the cost is linear).
func TestParseFromLarge(t *testing.T) {
	t.Parallel()
	for name, v := range largeInputs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := ParseFrom([]string{v})
			checkInvariants(t, got)
		})
	}
}

func largeInputs() map[string]string {
	const n = 256 << 10
	return map[string]string{
		"comments":       strings.Repeat("(", n/2) + strings.Repeat(")", n/2),
		"encoded starts": strings.Repeat("=?", n/2),
		"encoded words":  strings.Repeat("=?a?q?b?= ", n/10),
		"addresses":      strings.Repeat("a@b.example,", n/12),
		"ats":            strings.Repeat("@", n),
		"angles":         strings.Repeat("<", n),
		"quotes":         strings.Repeat(`"\`, n/2),
		"dots":           "a@" + strings.Repeat("b.", n/2),
		"long label":     "a@" + strings.Repeat("ü", n/2),
	}
}

func BenchmarkParseFrom(b *testing.B) {
	for name, v := range largeInputs() {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				ParseFrom([]string{v})
			}
		})
	}
}

// checkInvariants holds for every input: author domains are distinct,
// valid lower-case A-label host names, List domains are among them, and
// Problems has no duplicates and only known values.
func checkInvariants(t *testing.T, got Authors) {
	t.Helper()
	seen := map[string]bool{}
	for _, d := range got.Domains {
		if seen[d] {
			t.Errorf("duplicate domain %q", d)
		}
		seen[d] = true
		if !validHostname(d) || strings.ToLower(d) != d {
			t.Errorf("invalid domain %q", d)
		}
		if a, p := normalizeDomain(d); p != "" || a != d {
			t.Errorf("domain %q does not normalize to itself (%q, %q)", d, a, p)
		}
	}
	for _, a := range got.List {
		if a.Domain != "" && !seen[a.Domain] {
			t.Errorf("author domain %q not in Domains %q", a.Domain, got.Domains)
		}
	}
	ps := map[Problem]bool{}
	for _, p := range got.Problems {
		if ps[p] {
			t.Errorf("duplicate problem %q", p)
		}
		ps[p] = true
		if _, ok := problemText[p]; !ok {
			t.Errorf("unknown problem %q", p)
		}
	}
	if len(got.Domains) > 1 && !ps[ProblemMultipleDomains] {
		t.Errorf("several domains %q without %s", got.Domains, ProblemMultipleDomains)
	}
	if len(got.Problems) == 0 && (len(got.List) != 1 || len(got.Domains) != 1) {
		t.Errorf("no problems but List %+v Domains %q", got.List, got.Domains)
	}
}

func FuzzParseFrom(f *testing.F) {
	for v := range conformanceWant {
		f.Add(v, "")
	}
	f.Add(`"bank.example <ceo@bank.example>" <evil@attacker.example>`, "x@y.example")
	f.Add("=?utf-8?B?Y2VvQGJhbmsuZXhhbXBsZQ==?= <evil@bücher.example>", "")
	f.Add("<@a,@b:user@dom.example>", "Group: a@a.example;")
	f.Add("a\r\n b@[1.2.3.4] (c (d) \\)", "\xff@\xfe")
	f.Fuzz(func(t *testing.T, a, b string) {
		var values []string
		if a != "" || b != "" {
			values = append(values, a)
		}
		if b != "" {
			values = append(values, b)
		}
		got := ParseFrom(values)
		checkInvariants(t, got)
		if got.Fields != len(values) {
			t.Errorf("Fields = %d, want %d", got.Fields, len(values))
		}
	})
}
