package authres

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, tc := range formatCases {
		f.Add(tc.value)
	}
	f.Add("example.com; auth=pass (cram-md5) smtp.auth=sender@example.com;")
	f.Add(`example.net; dkim=fail (a;b) reason="x; dkim=pass" header.d="evil;example"`)
	f.Add("example.net 2; spf=pass")
	f.Add(`"x\"; spf=pass smtp.mailfrom="a b"@example.com (((`)
	f.Fuzz(func(t *testing.T, value string) {
		id, results, err := Parse(value)
		aid, aerr := AuthservID(value)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("Parse error not wrapping a sentinel: %v", err)
			}
			return
		}
		// A value Parse accepts has a well-formed authserv-id.
		if aerr != nil || aid != canonicalID(id) {
			t.Fatalf("AuthservID = %q, %v; Parse id %q", aid, aerr, id)
		}
		// Whatever was read can be written again safely, and the written
		// form is stable.
		v := Format(id, results)
		checkField(t, v)
		id2, res2, err := Parse(v)
		if err != nil {
			t.Fatalf("Parse(Format(Parse())) error: %v on %q", err, v)
		}
		if v2 := Format(id2, res2); v2 != v {
			t.Fatalf("Format not stable:\n%q\n%q", v, v2)
		}
	})
}

func FuzzAuthservID(f *testing.F) {
	f.Add(" mx.example.org; spf=pass")
	f.Add(` "MX.example.org" 1; none`)
	f.Add(" (x) Bücher.example (y); none")
	f.Add(" mx.example.org evil; none")
	f.Add(" (mx.example.org; none")
	f.Fuzz(func(t *testing.T, value string) {
		id, err := AuthservID(value)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not wrapping ErrMalformed: %v", err)
			}
			return
		}
		if id != strings.ToLower(id) {
			t.Fatalf("id %q not lower case", id)
		}
		// The id written back by Format is found again (after the same
		// sanitizing Format applies).
		want, _ := normalize(id, nil)
		got, err := AuthservID(Format(id, nil))
		if err != nil || got != canonicalID(want) {
			t.Fatalf("AuthservID(Format(%q)) = %q, %v; want %q", id, got, err, canonicalID(want))
		}
	})
}

func FuzzFormatRoundTrip(f *testing.F) {
	f.Add("mx.example.org", "spf", "pass", "", "", "smtp", "mailfrom", "a@example.com", 1)
	f.Add("mx.example.org\r\nX-Evil: 1", "dkim", "fail", `a "b" \ c`, "x)) (y \\", "header", "d", "example.com\r\nX-Evil: 1", 5)
	f.Add("bücher.example", "dmarc", "pass", "naïve", "\xff", "header", "from", "jösé@bücher.example", 2)
	f.Add("", "", "", "", "", "", "", "", 0)
	f.Add("a b", "dkim/1", "PASS", strings.Repeat("word ", 100), strings.Repeat("(", 300), "header", "b", strings.Repeat(`"`, 600), 3)
	f.Fuzz(func(t *testing.T, id, method, value, reason, comment, ptype, pname, pvalue string, n int) {
		if n < 0 {
			n = -n
		}
		n %= 8
		var results []Result
		for i := 0; i < n; i++ {
			r := Result{Method: method, Value: value, Reason: reason, Comment: comment}
			for j := 0; j <= i; j++ {
				r.Props = append(r.Props, Property{Type: ptype, Name: pname, Value: pvalue})
			}
			results = append(results, r)
		}
		v := Format(id, results)
		checkField(t, v)
		wantID, wantRes := normalize(id, results)
		gotID, gotRes, err := Parse(v)
		if err != nil {
			t.Fatalf("Parse(%q): %v", v, err)
		}
		if gotID != wantID {
			t.Fatalf("authserv-id %q, want %q", gotID, wantID)
		}
		if !reflect.DeepEqual(gotRes, wantRes) {
			t.Fatalf("results\n%#v\nwant\n%#v\nfield %q", gotRes, wantRes, v)
		}
		if aid, err := AuthservID(v); err != nil || aid != canonicalID(wantID) {
			t.Fatalf("AuthservID = %q, %v; want %q", aid, err, canonicalID(wantID))
		}
		if v2 := Format(gotID, gotRes); v2 != v {
			t.Fatalf("Format not idempotent:\n%q\n%q", v, v2)
		}
	})
}
