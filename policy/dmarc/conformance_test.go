package dmarc

// Conformance tables from testdata/dmarc-test-tables (see its SOURCE.md).
//
// Every row is run. A row where this package deliberately reads the
// record or the rule differently from the source's expectation is listed
// in a "differs" map with the reason; the test checks our reading for it
// AND that it still differs from the source (a stale note fails). Count
// lines are logged: go test -v -run Conformance ./policy/dmarc/
//
// Deliberate differences (the list for the closing note):
//
// opendmarc-record-parse.tsv (run in RFC 7489 mode, as OpenDMARC implements
// RFC 7489; OpenDMARC is a strict parser, we read as a receiver per RFC 7489
// §6.3 "syntax errors in the remainder of the record SHOULD be discarded in
// favor of default values"):
//   - 5  p=n: OpenDMARC prefix-matches; "n" is not a policy keyword, no
//     rua= → no usable policy (RFC 7489 §6.6.3 step 6).
//   - 10 adkim=bob, 11 aspf=bob, 12 rf=bob, 13 ri=bob, 14 pct=500,
//     19 rf=000…: the bad tag is defaulted, the record stays usable.
//
// opendmarc-org-domain.tsv: judged against the current PSL
// (testdata/dmarc-public-suffix-list) and the built-in one, not
// OpenDMARC's 2012 copy; all three rows give the same answer.
//
// opendmarc-alignment.tsv: run in RFC 7489 (PSL) mode only; the rows
// assume PSL organizational domains. No differences.
//
// mail-dmarc-evaluation.yaml:
//   - reporting_uri invalid "http://www.example.com/dmarc": Mail::DMARC
//     refuses an http URI whose host differs from the policy domain; RFC
//     7489 §6.4 only asks for a syntactically valid URI, so we keep it
//     (external destinations are checked by ReportDestination, §7.1).
//   - policy_discovery "fetch com": same outcome (no record), but we do
//     query _dmarc.com: RFC 9989 §4.10.1 walks down to the TLD.
//
// mail-dmarc-policy-tags.yaml (RFC 9989 mode, as Mail::DMARC follows it):
//   - v: dmarc1 — the version literal is case-sensitive (RFC 7489 §6.4
//     %x44.4d.41.52.43.31, RFC 9989 %s"DMARC1"); Mail::DMARC folds case.
//   - "v=DMARC1" and "v=DMARC1; rua=ftp://www.example.com": RFC 9989's "p"
//     tag text treats a record without p= as p=none whether or not rua= is
//     usable; Mail::DMARC keeps the RFC 7489 rua= condition (RFC 7489 mode
//     agrees with Mail::DMARC here, see TestParseRecord).
//
// checkdmarc-record-lint.yaml (checkdmarc is a publisher-side linter; a
// receiver keeps what it can use):
//   - rua without scheme / "__mailto:": the bad URI is dropped, the record
//     (p=none, a second valid rua) is usable.
//   - p=foo with a valid rua: read as p=none (RFC 7489 §6.6.3 step 6).
//   - fo=invalid_value, fo=x, psd=x, t=x: the tag is defaulted.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func readTSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var head []string
	var rows []map[string]string
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if head == nil {
			head = cols
			continue
		}
		row := map[string]string{}
		for i, h := range head {
			if i < len(cols) {
				row[h] = cols[i]
			}
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// tally counts agreements and deliberate differences for a table.
type tally struct {
	name             string
	total, agree     int
	differ, mismatch []string
}

func (c *tally) row(t *testing.T, id string, agrees bool, note string, isListed bool) {
	t.Helper()
	c.total++
	switch {
	case agrees && !isListed:
		c.agree++
	case !agrees && isListed:
		c.differ = append(c.differ, id+": "+note)
	case agrees && isListed:
		t.Errorf("%s row %s: listed as a deliberate difference (%s) but now agrees with the source", c.name, id, note)
	default:
		c.mismatch = append(c.mismatch, id)
		t.Errorf("%s row %s: disagrees with the source and is not a listed difference", c.name, id)
	}
}

func (c *tally) report(t *testing.T) {
	t.Helper()
	t.Logf("%s: %d/%d agree with the source, %d deliberate differences", c.name, c.agree, c.total, len(c.differ))
	for _, d := range c.differ {
		t.Logf("  differs %s", d)
	}
}

const tables = "testdata/dmarc-test-tables/"

func TestConformanceOpenDMARCRecordParse(t *testing.T) {
	t.Parallel()
	differs := map[string]string{
		"5":  "p=n is not a policy keyword; no rua → ErrNoPolicy",
		"10": "invalid adkim defaulted to r (RFC 7489 §6.3)",
		"11": "invalid aspf defaulted to r (RFC 7489 §6.3)",
		"12": "invalid rf defaulted to afrf (RFC 7489 §6.3)",
		"13": "invalid ri defaulted to 86400 (RFC 7489 §6.3)",
		"14": "invalid pct defaulted to 100 (RFC 7489 §6.3)",
		"19": "invalid rf defaulted to afrf (RFC 7489 §6.3)",
	}
	c := &tally{name: "opendmarc-record-parse"}
	for _, row := range readTSV(t, tables+"opendmarc-record-parse.tsv") {
		// OpenDMARC implements RFC 7489: read the records as RFC 7489 does.
		rec, err := ParseRecordMode(row["record"], ModeRFC7489)
		var got string
		switch {
		case err == nil:
			got = "OKAY"
		case errors.Is(err, ErrNotDMARC) && strings.TrimSpace(row["record"]) == "":
			got = "ERROR_EMPTY"
		case errors.Is(err, ErrNotDMARC):
			got = "ERROR_BAD_VERSION"
		case errors.Is(err, ErrNoPolicy) && !strings.Contains(row["record"], "p="):
			got = "ERROR_NO_REQUIRED_P"
		default:
			got = "ERROR_BAD_VALUE"
		}
		note, listed := differs[row["case"]]
		if listed && got == "OKAY" && len(rec.Warnings) == 0 {
			t.Errorf("row %s: accepted without a warning", row["case"])
		}
		c.row(t, row["case"], got == row["expected_opendmarc_status"], note, listed)
	}
	c.report(t)
}

func TestConformanceOpenDMARCAlignment(t *testing.T) {
	t.Parallel()
	c := &tally{name: "opendmarc-alignment"}
	e := &Evaluator{Mode: ModeRFC7489}
	for _, row := range readTSV(t, tables+"opendmarc-alignment.tsv") {
		r := e.newRun(newZone())
		ok, err := r.aligned(normalize(row["domain_a"]), row["domain_b"], row["mode"] == "strict")
		if err != nil {
			t.Errorf("row %s: %v", row["case"], err)
		}
		c.row(t, row["case"], ok == (row["expected_aligned"] == "yes"), "", false)
		if r.lookups != 0 {
			t.Errorf("row %s: PSL mode asked DNS %d times", row["case"], r.lookups)
		}
	}
	c.report(t)
}

func TestConformanceOpenDMARCOrgDomain(t *testing.T) {
	t.Parallel()
	file := loadTestPSL(t)
	for _, list := range []struct {
		name string
		psl  PSL
	}{{"current list", file}, {"built-in list", BuiltinPSL()}} {
		c := &tally{name: "opendmarc-org-domain (" + list.name + ")"}
		e := &Evaluator{Mode: ModeRFC7489, PSL: list.psl}
		for _, row := range readTSV(t, tables+"opendmarc-org-domain.tsv") {
			got, _ := e.newRun(newZone()).org(row["domain"])
			if got != row["expected_org_domain"] {
				t.Logf("row %s: got %q", row["case"], got)
			}
			c.row(t, row["case"], got == row["expected_org_domain"], "", false)
		}
		c.report(t)
	}
}

// mailDMARCEval mirrors mail-dmarc-evaluation.yaml.
type mdIdent struct {
	Domain   string `yaml:"domain"`
	Selector string `yaml:"selector"`
	Scope    string `yaml:"scope"`
	Result   string `yaml:"result"`
}

type mdCase struct {
	Name       string         `yaml:"name"`
	DMARCbis   bool           `yaml:"dmarcbis"`
	HeaderFrom string         `yaml:"header_from"`
	SPF        yaml.Node      `yaml:"spf"`
	DKIM       yaml.Node      `yaml:"dkim"`
	ASPF       string         `yaml:"aspf"`
	Expected   yaml.Node      `yaml:"expected"`
	SPFAligned string         `yaml:"spf_aligned"`
	DKIMAlign  string         `yaml:"dkim_aligned"`
	Fetch      string         `yaml:"fetch"`
	ExpRecord  string         `yaml:"expected_record"`
	IsSub      *int           `yaml:"is_subdomain"`
	Domain     string         `yaml:"domain"`
	Extra      map[string]any `yaml:",inline"`
}

type mdFile struct {
	Zone         []string         `yaml:"zone"`
	Defaults     map[string]any   `yaml:"defaults"`
	SPFAlign     []mdCase         `yaml:"spf_alignment"`
	DKIMAlign    []mdCase         `yaml:"dkim_alignment"`
	ResultFrom   []mdCase         `yaml:"dmarc_result_from_alignment"`
	Validate     []mdCase         `yaml:"validate"`
	Discovery    []mdCase         `yaml:"policy_discovery"`
	OrgDomain    []mdCase         `yaml:"organizational_domain"`
	ReportingURI map[string]any   `yaml:"reporting_uri"`
	External     []map[string]any `yaml:"external_report_authorization"`
}

func loadMailDMARC(t *testing.T) (*mdFile, *zone) {
	t.Helper()
	b, err := os.ReadFile(tables + "mail-dmarc-evaluation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f mdFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	z := newZone()
	for _, line := range f.Zone {
		fields := strings.Fields(line)
		if len(fields) < 4 {
			t.Fatalf("zone line %q", line)
		}
		switch fields[2] {
		case "TXT":
			_, data, _ := strings.Cut(line, " TXT ")
			z.add(fields[0], strings.Trim(strings.TrimSpace(data), `"`))
		default:
			z.host(fields[0])
		}
	}
	return &f, z
}

func identities(t *testing.T, n *yaml.Node) []mdIdent {
	t.Helper()
	if n == nil || n.Kind == 0 {
		return nil
	}
	var l []mdIdent
	if n.Kind == yaml.MappingNode {
		var one mdIdent
		if err := n.Decode(&one); err != nil {
			t.Fatal(err)
		}
		return []mdIdent{one}
	}
	if err := n.Decode(&l); err != nil {
		t.Fatal(err)
	}
	return l
}

func modesFor(bis bool) []Mode {
	if bis {
		return []Mode{ModeRFC9989}
	}
	return []Mode{ModeRFC9989, ModeRFC7489}
}

func TestConformanceMailDMARCEvaluation(t *testing.T) {
	t.Parallel()
	f, z := loadMailDMARC(t)
	c := &tally{name: "mail-dmarc-evaluation"}
	check := func(id string, ok bool, note string, listed bool) { c.row(t, id, ok, note, listed) }

	// spf_alignment: strict / relaxed / not_aligned.
	for i, tc := range f.SPFAlign {
		id := fmt.Sprintf("spf_alignment[%d]", i)
		spf := identities(t, &tc.SPF)[0]
		var want string
		if err := tc.Expected.Decode(&want); err != nil {
			t.Fatal(err)
		}
		ok := true
		for _, m := range modesFor(false) {
			r := (&Evaluator{Mode: m}).newRun(z)
			s, err1 := r.aligned(tc.HeaderFrom, spf.Domain, true)
			rl, err2 := r.aligned(tc.HeaderFrom, spf.Domain, false)
			got := "not_aligned"
			if s {
				got = "strict"
			} else if rl {
				got = "relaxed"
			}
			if err1 != nil || err2 != nil || got != want {
				t.Logf("%s %s: got %s (%v %v)", id, m, got, err1, err2)
				ok = false
			}
		}
		check(id, ok, "", false)
	}

	// dkim_alignment: relaxed (the default) over passing signatures.
	var prev []mdIdent
	for i, tc := range f.DKIMAlign {
		id := fmt.Sprintf("dkim_alignment[%d]", i)
		sigs := prev
		if tc.DKIM.Kind != yaml.ScalarNode {
			sigs = identities(t, &tc.DKIM)
		}
		prev = sigs
		var want string
		if err := tc.Expected.Decode(&want); err != nil {
			t.Fatal(err)
		}
		ok := true
		for _, m := range modesFor(false) {
			r := (&Evaluator{Mode: m}).newRun(z)
			got := false
			for _, s := range sigs {
				if s.Result != "pass" {
					continue
				}
				a, err := r.aligned(tc.HeaderFrom, s.Domain, false)
				if err != nil {
					t.Logf("%s %s: %v", id, m, err)
				}
				got = got || a
			}
			if got != (want == "aligned") {
				t.Logf("%s %s: got aligned=%v", id, m, got)
				ok = false
			}
		}
		check(id, ok, "", false)
	}

	// dmarc_result_from_alignment: either aligned identifier passes.
	for i, tc := range f.ResultFrom {
		id := fmt.Sprintf("dmarc_result_from_alignment[%d]", i)
		var want string
		if err := tc.Expected.Decode(&want); err != nil {
			t.Fatal(err)
		}
		in := Input{FromDomain: "tnpi.net", SPF: SPFInput{Result: "pass", Domain: "unrelated.example.com"}}
		if tc.SPFAligned == "pass" {
			in.SPF.Domain = "tnpi.net"
		}
		if tc.DKIMAlign == "pass" {
			in.DKIM = []DKIMInput{{Result: "pass", Domain: "tnpi.net", Selector: "s"}}
		}
		ok := true
		for _, m := range modesFor(false) {
			if got := (&Evaluator{Mode: m}).Evaluate(in, z); got.Result != want {
				t.Logf("%s %s: got %+v", id, m, got)
				ok = false
			}
		}
		check(id, ok, "", false)
	}

	// validate: whole evaluations.
	for _, tc := range f.Validate {
		id := "validate " + tc.Name
		in := Input{FromDomain: tc.HeaderFrom, SPF: SPFInput{Result: "pass", Domain: "unrelated.example.com"}}
		if tc.SPF.Kind != 0 {
			for _, s := range identities(t, &tc.SPF) {
				if s.Scope == "mfrom" {
					in.SPF = SPFInput{Result: s.Result, Domain: s.Domain}
				}
			}
		}
		for _, s := range identities(t, &tc.DKIM) {
			in.DKIM = append(in.DKIM, DKIMInput{Result: s.Result, Domain: s.Domain, Selector: s.Selector})
		}
		var want map[string]any
		if err := tc.Expected.Decode(&want); err != nil {
			t.Fatal(err)
		}
		ok := true
		for _, m := range modesFor(tc.DMARCbis) {
			got := (&Evaluator{Mode: m}).Evaluate(in, z)
			for k, v := range want {
				var g any
				switch k {
				case "result":
					g = got.Result
				case "disposition":
					g = string(got.Disposition)
				case "spf_aligned":
					g = got.SPFAligned
				case "dkim_aligned":
					g = got.DKIMAligned
				case "spf":
					g = in.SPF.Result // an input echoed by Mail::DMARC
				case "published_p":
					if got.Record != nil {
						g = string(got.Record.P)
					}
				default:
					t.Fatalf("%s: unknown expectation %q", id, k)
				}
				if !reflect.DeepEqual(g, v) {
					t.Logf("%s %s: %s = %v, want %v (%+v)", id, m, k, g, v, got)
					ok = false
				}
			}
		}
		check(id, ok, "", false)
	}

	// policy_discovery.
	for i, tc := range f.Discovery {
		id := fmt.Sprintf("policy_discovery[%d]", i)
		ok := true
		for _, m := range modesFor(false) {
			e := &Evaluator{Mode: m}
			if tc.Fetch != "" {
				r := e.newRun(z)
				lk, err := r.fetch(tc.Fetch)
				if err != nil || lk.found || lk.temp != nil || tc.ExpRecord != "none" {
					ok = false
				}
				continue
			}
			got := e.Evaluate(Input{FromDomain: tc.HeaderFrom}, z)
			if got.Record == nil {
				ok = false
				continue
			}
			if tc.ExpRecord != "" && got.Record.Raw != tc.ExpRecord {
				ok = false
			}
			// Mail::DMARC's is_subdomain: the author domain is below its
			// organizational domain (not: the policy was inherited).
			if tc.IsSub != nil && (got.FromDomain != got.OrgDomain) != (*tc.IsSub == 1) {
				ok = false
			}
		}
		check(id, ok, "", false)
	}

	// organizational_domain.
	for _, tc := range f.OrgDomain {
		id := "organizational_domain " + tc.Domain
		var want string
		if err := tc.Expected.Decode(&want); err != nil {
			t.Fatal(err)
		}
		ok := true
		for _, m := range modesFor(tc.DMARCbis) {
			got, err := (&Evaluator{Mode: m}).newRun(z).org(tc.Domain)
			if err != nil || got != want {
				t.Logf("%s %s: got %q %v", id, m, got, err)
				ok = false
			}
		}
		check(id, ok, "", false)
	}

	// reporting_uri.
	uriDiffers := map[string]string{
		"http://www.example.com/dmarc": "syntactically valid http URI kept; host checks are not in RFC 7489 §6.4",
	}
	for _, kind := range []string{"valid", "invalid"} {
		for _, v := range f.ReportingURI[kind].([]any) {
			s := v.(string)
			got := len(parseURIList(s, func(string) {}))
			agrees := (got > 0) == (kind == "valid")
			note, listed := uriDiffers[s]
			check("reporting_uri "+kind+" "+s, agrees, note, listed)
		}
	}
	single := f.ReportingURI["single_filtered"].(string)
	check("reporting_uri single_filtered", len(parseURIList(single, func(string) {})) == 1, "", false)

	// external_report_authorization (RFC 7489 §7.1).
	for i, tc := range f.External {
		id := fmt.Sprintf("external_report_authorization[%d]", i)
		pd := tc["policy_domain"].(string)
		var u URI
		var err error
		if s, ok := tc["uri"].(string); ok {
			u, err = ParseURI(s)
		} else {
			u, err = ParseURI("mailto:dmarc@" + tc["rua_domain"].(string))
		}
		if err != nil {
			t.Fatal(err)
		}
		ok := true
		for _, m := range modesFor(false) {
			d := (&Evaluator{Mode: m}).ReportDestination(pd, u, z)
			if d.Err != nil {
				ok = false
			}
			if ext, has := tc["external"].(bool); has && d.External != ext {
				ok = false
			}
			if tc["expected"] == "authorized" && !d.Authorized {
				ok = false
			}
			if o, has := tc["rua_override"].(string); has && (len(d.Override) != 1 || d.Override[0].Raw != o) {
				ok = false
			}
			if _, has := tc["rua_override"]; !has && len(d.Override) != 0 {
				ok = false
			}
		}
		check(id, ok, "", false)
	}

	if c.total != 52 {
		t.Errorf("mail-dmarc-evaluation: ran %d cases, the file has 52", c.total)
	}
	c.report(t)
}

func TestConformanceMailDMARCPolicyTags(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(tables + "mail-dmarc-policy-tags.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Valid   map[string][]string `yaml:"valid_values"`
		Invalid map[string][]string `yaml:"invalid_values"`
		Records []struct {
			Record   string    `yaml:"record"`
			Expected yaml.Node `yaml:"expected"`
		} `yaml:"whole_records"`
		Defaults map[string]string `yaml:"defaults_applied_to_minimal_record"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	differs := map[string]string{
		"valid v=dmarc1":  "the DMARC1 literal is case-sensitive (RFC 7489 §6.4, RFC 9989 ABNF %s)",
		"record v=DMARC1": "RFC 9989 \"p\" tag: a record without p= is treated as p=none, rua= or not",
		"record v=DMARC1; rua=ftp://www.example.com": "RFC 9989 \"p\" tag: a record without p= is treated as p=none, rua= or not",
	}
	c := &tally{name: "mail-dmarc-policy-tags"}
	record := func(tag, value string) string {
		switch tag {
		case "v":
			return "v=" + value + "; p=none"
		case "p":
			return "v=DMARC1; p=" + value
		}
		return "v=DMARC1; p=none; " + tag + "=" + value
	}
	for _, kind := range []string{"valid", "invalid"} {
		m := f.Valid
		if kind == "invalid" {
			m = f.Invalid
		}
		for tag, values := range m {
			for _, v := range values {
				id := kind + " " + tag + "=" + v
				rec, err := ParseRecord(record(tag, v))
				accepted := err == nil && len(rec.Warnings) == 0
				note, listed := differs[id]
				c.row(t, id, accepted == (kind == "valid"), note, listed)
			}
		}
	}
	for _, wr := range f.Records {
		id := "record " + wr.Record
		rec, err := ParseRecord(wr.Record)
		var agrees bool
		switch wr.Expected.Kind {
		case yaml.ScalarNode:
			agrees = (err == nil) == (wr.Expected.Value == "valid")
		default:
			var want map[string]any
			if e := wr.Expected.Decode(&want); e != nil {
				t.Fatal(e)
			}
			agrees = err == nil && rec.P == Policy(want["p"].(string)) &&
				(want["pct"] == nil && rec.Pct == 100 || want["pct"] == rec.Pct) &&
				len(rec.RUA) == 1 && rec.RUA[0].Raw == want["rua"] &&
				(want["ruf"] == nil && len(rec.RUF) == 0 || len(rec.RUF) == 1 && rec.RUF[0].Raw == want["ruf"])
		}
		note, listed := differs[id]
		if !agrees && !listed {
			t.Logf("%s: %+v %v", id, rec, err)
		}
		c.row(t, id, agrees, note, listed)
	}
	rec, err := ParseRecord("v=DMARC1; p=reject")
	c.row(t, "defaults", err == nil && string(rec.P) == f.Defaults["p"] && rec.FO == f.Defaults["fo"] &&
		rec.ADKIM == f.Defaults["adkim"] && rec.ASPF == f.Defaults["aspf"], "", false)
	c.report(t)
}

func TestConformanceCheckDMARCLint(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(tables + "checkdmarc-record-lint.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Record   string `yaml:"record"`
		Expected string `yaml:"expected"`
		Why      string `yaml:"why"`
	}
	if err := yaml.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	receiver := "a receiver keeps what it can use (RFC 7489 §6.3)"
	differs := map[string]string{
		"v=DMARC1; p=none; rua=reports@dmarc.cyber.dhs.gov,mailto:dmarcreports@usdoj.gov":          "bad URI dropped; p=none and one valid rua remain: " + receiver,
		"v=DMARC1; p=none; rua=__mailto:reports@dmarc.cyber.dhs.gov,mailto:dmarcreports@usdoj.gov": "bad URI dropped; p=none and one valid rua remain: " + receiver,
		"v=DMARC1; p=foo; rua=mailto:dmarc@example.com":                                            "invalid p with a valid rua → p=none (RFC 7489 §6.6.3 step 6)",
		"v=DMARC1; p=reject; fo=invalid_value":                                                     "fo defaulted to 0: " + receiver,
		"v=DMARC1; p=reject; fo=x":                                                                 "fo defaulted to 0: " + receiver,
		"v=DMARC1; p=reject; psd=x":                                                                "psd defaulted to u: " + receiver,
		"v=DMARC1; p=reject; t=x":                                                                  "t defaulted to n: " + receiver,
	}
	c := &tally{name: "checkdmarc-record-lint"}
	for _, row := range rows {
		rec, err := ParseRecord(row.Record)
		usable := err == nil
		agrees := usable == strings.HasPrefix(row.Expected, "valid")
		// Details checkdmarc spells out for valid rows.
		if usable {
			exp := row.Expected
			if strings.Contains(exp, "np=quarantine") && rec.policyFor("np") != PolicyQuarantine ||
				strings.Contains(exp, "psd=n") && rec.PSD != "n" ||
				strings.Contains(exp, "; t=y") && !rec.Testing ||
				strings.Contains(exp, "implicit np=reject") && (rec.policyFor("np") != PolicyReject || rec.PSD != "u" || rec.Testing) ||
				strings.Contains(exp, "p defaults to none") && rec.P != PolicyNone {
				agrees = false
			}
		}
		note, listed := differs[row.Record]
		if !agrees && !listed {
			t.Logf("%q: %+v %v", row.Record, rec, err)
		}
		c.row(t, row.Record, agrees, note, listed)
	}
	c.report(t)
}
