package authres

import (
	"errors"
	"net/mail"
	"reflect"
	"strings"
	"testing"
)

// formatCases is shared by TestFormat and TestParse (like go-msgauth's
// authres/msgauth_test.go): Format(id, results) must give exactly value, and
// Parse(value) must give back id and results.
var formatCases = []struct {
	name    string
	id      string
	results []Result
	value   string
}{
	{
		name:  "none",
		id:    "mx.example.org",
		value: " mx.example.org; none",
	},
	{
		name:    "spf pass",
		id:      "mx.example.org",
		results: []Result{{Method: "spf", Value: "pass", Props: []Property{{"smtp", "mailfrom", "sender@example.com"}}}},
		value:   " mx.example.org;\r\n\tspf=pass smtp.mailfrom=sender@example.com",
	},
	{
		name:    "fits on one line",
		id:      "mx.example",
		results: []Result{{Method: "spf", Value: "pass", Props: []Property{{"smtp", "mailfrom", "a@example.com"}}}},
		value:   " mx.example; spf=pass smtp.mailfrom=a@example.com",
	},
	{
		name:    "null sender uses helo domain",
		id:      "mx.example.org",
		results: []Result{{Method: "spf", Value: "none", Props: []Property{{"smtp", "helo", "mail.example.com"}}}},
		value:   " mx.example.org; spf=none smtp.helo=mail.example.com",
	},
	{
		name: "reason and comment",
		id:   "mx.example.org",
		results: []Result{{Method: "dkim", Value: "fail", Comment: "bad signature", Reason: "body hash mismatch",
			Props: []Property{{"header", "d", "example.com"}}}},
		value: " mx.example.org;\r\n\tdkim=fail (bad signature) reason=\"body hash mismatch\" header.d=example.com",
	},
	{
		name:    "quoted authserv-id",
		id:      "mx example",
		results: []Result{{Method: "iprev", Value: "pass", Props: []Property{{"policy", "iprev", "192.0.2.1"}}}},
		value:   ` "mx example"; iprev=pass policy.iprev=192.0.2.1`,
	},
	{
		name:    "base64 header.b is quoted",
		id:      "mx.example.org",
		results: []Result{{Method: "dkim", Value: "pass", Props: []Property{{"header", "d", "example.com"}, {"header", "b", "Ab+/c="}}}},
		value:   " mx.example.org;\r\n\tdkim=pass header.d=example.com header.b=\"Ab+/c=\"",
	},
	{
		name:    "domain-only header.i",
		id:      "mx.example.org",
		results: []Result{{Method: "dkim", Value: "pass", Props: []Property{{"header", "i", "@sub.example.com"}}}},
		value:   ` mx.example.org; dkim=pass header.i=@sub.example.com`,
	},
	{
		name:    "local-part needing quotes quotes the whole value",
		id:      "mx.example.org",
		results: []Result{{Method: "spf", Value: "fail", Props: []Property{{"smtp", "mailfrom", `"john doe"@example.com`}}}},
		value:   " mx.example.org;\r\n\tspf=fail smtp.mailfrom=\"\\\"john doe\\\"@example.com\"",
	},
	{
		name:    "empty property value",
		id:      "mx.example.org",
		results: []Result{{Method: "spf", Value: "none", Props: []Property{{"smtp", "mailfrom", ""}}}},
		value:   ` mx.example.org; spf=none smtp.mailfrom=""`,
	},
	{
		name:    "method version",
		id:      "mx.example.org",
		results: []Result{{Method: "dkim/1", Value: "pass", Props: []Property{{"header", "d", "example.com"}}}},
		value:   ` mx.example.org; dkim/1=pass header.d=example.com`,
	},
	{
		name: "several results fold one per line",
		id:   "mx.example.org",
		results: []Result{
			{Method: "spf", Value: "pass", Props: []Property{{"smtp", "mailfrom", "sender@example.com"}}},
			{Method: "dkim", Value: "pass", Props: []Property{{"header", "d", "example.com"}, {"header", "s", "sel1"}}},
			{Method: "dmarc", Value: "pass", Props: []Property{{"header", "from", "example.com"}}},
		},
		value: " mx.example.org;\r\n\tspf=pass smtp.mailfrom=sender@example.com;\r\n\tdkim=pass header.d=example.com header.s=sel1;\r\n\tdmarc=pass header.from=example.com",
	},
	{
		name: "long reason folds inside the quoted-string",
		id:   "mx.example.org",
		results: []Result{{Method: "dkim", Value: "permerror",
			Reason: "the key record for this selector could not be parsed because its p= tag is not base64",
			Props:  []Property{{"header", "d", "example.com"}}}},
		value: " mx.example.org;\r\n\tdkim=permerror reason=\"the key record for this selector could not be parsed\r\n because its p= tag is not base64\" header.d=example.com",
	},
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range formatCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Format(tc.id, tc.results)
			if got != tc.value {
				t.Errorf("Format() =\n%q\nwant\n%q", got, tc.value)
			}
			checkField(t, got)
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range formatCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, results, err := Parse(tc.value)
			if err != nil {
				t.Fatalf("Parse() error: %v", err)
			}
			if id != tc.id {
				t.Errorf("authserv-id = %q, want %q", id, tc.id)
			}
			if !reflect.DeepEqual(results, tc.results) {
				t.Errorf("results =\n%#v\nwant\n%#v", results, tc.results)
			}
		})
	}
}

// TestParseOthers reads fields in styles other writers use.
func TestParseOthers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   string
		id      string
		results []Result
	}{
		{
			name:  "gmail style comment and bare header.b",
			value: " mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=20230601 header.b=Ab/Cd+E=;\r\n       spf=pass (google.com: domain of a@example.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=a@example.com",
			id:    "mx.google.com",
			results: []Result{
				{Method: "dkim", Value: "pass", Props: []Property{{"header", "i", "@example.com"}, {"header", "s", "20230601"}, {"header", "b", "Ab/Cd+E="}}},
				{Method: "spf", Value: "pass", Comment: "google.com: domain of a@example.com designates 192.0.2.1 as permitted sender",
					Props: []Property{{"smtp", "mailfrom", "a@example.com"}}},
			},
		},
		{
			name:    "semicolon inside quoted string and comment",
			value:   `example.net; dkim=fail (a;b) reason="x; dkim=pass" header.d="evil;example"`,
			id:      "example.net",
			results: []Result{{Method: "dkim", Value: "fail", Comment: "a;b", Reason: "x; dkim=pass", Props: []Property{{"header", "d", "evil;example"}}}},
		},
		{
			name:    "CFWS everywhere and upper case keywords",
			value:   "(c) example.net (c) ; (c) SPF (c) = (c) Pass (first) (second) Reason = bad (c) SMTP (c) . (c) MailFrom = (c) x@example.com (c) ;",
			id:      "example.net",
			results: []Result{{Method: "spf", Value: "pass", Comment: "first second", Reason: "bad", Props: []Property{{"smtp", "mailfrom", "x@example.com"}}}},
		},
		{
			name:    "nested comment",
			value:   `example.net; auth=pass (a (nested \) one) b) smtp.auth=u`,
			id:      "example.net",
			results: []Result{{Method: "auth", Value: "pass", Comment: "a (nested ) one) b", Props: []Property{{"smtp", "auth", "u"}}}},
		},
		{
			name:    "quoted local-part kept as written",
			value:   `example.net; spf=pass smtp.mailfrom="a b"@example.com`,
			id:      "example.net",
			results: []Result{{Method: "spf", Value: "pass", Props: []Property{{"smtp", "mailfrom", `"a b"@example.com`}}}},
		},
		{
			name:    "UTF-8 id and U-label (RFC 6532)",
			value:   "bücher.example; dmarc=pass header.from=bücher.example",
			id:      "bücher.example",
			results: []Result{{Method: "dmarc", Value: "pass", Props: []Property{{"header", "from", "bücher.example"}}}},
		},
		{
			name:    "empty resinfos skipped",
			value:   "example.net;; spf=pass;;",
			id:      "example.net",
			results: []Result{{Method: "spf", Value: "pass"}},
		},
		{
			name:  "RFC 8601 appendix B style: reasons and domain-only header.i",
			value: " example.com;\r\n      dkim=pass reason=\"good signature\"\r\n        header.i=@mail-router.example.net;\r\n      dkim=fail reason=\"bad signature\"\r\n        header.i=@newyork.example.com",
			id:    "example.com",
			results: []Result{
				{Method: "dkim", Value: "pass", Reason: "good signature", Props: []Property{{"header", "i", "@mail-router.example.net"}}},
				{Method: "dkim", Value: "fail", Reason: "bad signature", Props: []Property{{"header", "i", "@newyork.example.com"}}},
			},
		},
		{
			name:  "RFC 8601 appendix B style: iprev and header.b",
			value: " mail-router.example.net; iprev=pass\r\n  policy.iprev=192.0.2.200; dkim=pass (good signature) header.d=newyork.example.com header.b=oINEO8hg",
			id:    "mail-router.example.net",
			results: []Result{
				{Method: "iprev", Value: "pass", Props: []Property{{"policy", "iprev", "192.0.2.200"}}},
				{Method: "dkim", Value: "pass", Comment: "good signature", Props: []Property{{"header", "d", "newyork.example.com"}, {"header", "b", "oINEO8hg"}}},
			},
		},
		{
			name:  "no resinfo at all",
			value: "example.net",
			id:    "example.net",
		},
		{
			name:  "version 1",
			value: "example.net 1 (c); none",
			id:    "example.net",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, results, err := Parse(tc.value)
			if err != nil {
				t.Fatalf("Parse() error: %v", err)
			}
			if id != tc.id {
				t.Errorf("authserv-id = %q, want %q", id, tc.id)
			}
			if !reflect.DeepEqual(results, tc.results) {
				t.Errorf("results =\n%#v\nwant\n%#v", results, tc.results)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
		want  error
	}{
		{"empty", "", ErrMalformed},
		{"only CFWS", " (comment) \r\n ", ErrMalformed},
		{"missing id", "; spf=pass", ErrMalformed},
		{"unterminated comment", "example.net (oops; none", ErrMalformed},
		{"unterminated quoted id", `"example.net; none`, ErrMalformed},
		{"unterminated quoted value", `example.net; spf=pass smtp.mailfrom="x`, ErrMalformed},
		{"backslash at end of quoted", `example.net; spf=pass reason="x\`, ErrMalformed},
		{"no method", "example.net; =pass", ErrMalformed},
		{"no result", "example.net; spf=", ErrMalformed},
		{"no equals", "example.net; spf pass", ErrMalformed},
		{"resinfo after none", "example.net; none; spf=pass", ErrMalformed},
		{"property without ptype", "example.net; dmarc=pass action=none", ErrMalformed},
		{"property without value", "example.net; spf=pass smtp.mailfrom=", ErrMalformed},
		{"stray close paren", "example.net; spf=pass smtp.mailfrom=a)", ErrMalformed},
		{"garbage after id", "example.net foo; none", ErrMalformed},
		{"bad version", "example.net 1x; none", ErrMalformed},
		{"version 2", "example.net 2; spf=pass", ErrVersion},
		{"method version not digits", "example.net; dkim/x=pass", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Parse(tc.value)
			if !errors.Is(err, tc.want) {
				t.Errorf("Parse(%q) error = %v, want %v", tc.value, err, tc.want)
			}
		})
	}
}

func TestAuthservID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   string
		want    string
		wantErr error
	}{
		{"plain", " mx.example.org; spf=pass", "mx.example.org", nil},
		{"case folded", " MX.Example.ORG; none", "mx.example.org", nil},
		{"leading comment", " (mx.example.org) evil.example; none", "evil.example", nil},
		{"comment hides nothing", " (x) mx.example.org(y); none", "mx.example.org", nil},
		{"quoted", ` "MX.example.org"; none`, "mx.example.org", nil},
		{"quoted with escapes", ` "mx.ex\ample.org"; none`, "mx.example.org", nil},
		{"folded before id", "\r\n\t mx.example.org\r\n ; none", "mx.example.org", nil},
		{"version", " mx.example.org 1; none", "mx.example.org", nil},
		{"unknown version still gives id", " mx.example.org 2; none", "mx.example.org", nil},
		{"no resinfo", "mx.example.org", "mx.example.org", nil},
		{"rest not read", "mx.example.org; ((( garbage", "mx.example.org", nil},
		{"U-label becomes A-label", " Bücher.example; none", "xn--bcher-kva.example", nil},
		{"empty quoted id", `""; none`, "", nil},
		{"garbage after id keeps id", " mx.example.org evil; none", "mx.example.org", ErrMalformed},
		{"slash after id keeps id", " mx.example.org/x; none", "mx.example.org", ErrMalformed},
		{"empty", "", "", ErrMalformed},
		{"missing id", " ; spf=pass", "", ErrMalformed},
		{"unterminated comment", " (mx.example.org; none", "", ErrMalformed},
		{"unterminated quoted", ` "mx.example.org; none`, "", ErrMalformed},
		{"NUL before id", "\x00mx.example.org; none", "", ErrMalformed},
		{"bare equals", "=; none", "", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := AuthservID(tc.value)
			if got != tc.want {
				t.Errorf("AuthservID(%q) = %q, want %q", tc.value, got, tc.want)
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("AuthservID(%q) error = %v, want %v", tc.value, err, tc.wantErr)
			}
		})
	}
}

// TestAuthservIDOfFormat checks that the id Format writes is found again,
// whatever it was.
func TestAuthservIDOfFormat(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"mx.example.org", "MX.Example.Org", "a b", `we"ird\id`, "bücher.example", "x;y", "(c)"} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			got, err := AuthservID(Format(id, nil))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := normalize(id, nil)
			if got != canonicalID(want) {
				t.Errorf("AuthservID(Format(%q)) = %q, want %q", id, got, canonicalID(want))
			}
		})
	}
}

// checkField asserts that v, written after "Authentication-Results:", is
// exactly one syntactically safe header field: 7-bit, CR only in CRLF, every
// CRLF followed by white space, no line over 998 octets, and a mail parser
// sees one Authentication-Results field (and the next field intact) whose
// unfolded value parses to the same results as v.
func checkField(t *testing.T, v string) {
	t.Helper()
	if !strings.HasPrefix(v, " ") {
		t.Errorf("value does not start with a space: %q", v)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 0x80:
			t.Fatalf("8-bit octet at %d: %q", i, v)
		case c == '\r':
			if i+2 >= len(v) || v[i+1] != '\n' || (v[i+2] != ' ' && v[i+2] != '\t') {
				t.Fatalf("CR at %d not a fold: %q", i, v)
			}
		case c == '\n':
			if i == 0 || v[i-1] != '\r' {
				t.Fatalf("bare LF at %d: %q", i, v)
			}
		case c < 0x20 && c != '\t' || c == 0x7f:
			t.Fatalf("control octet %#x at %d: %q", c, i, v)
		}
	}
	for i, line := range strings.Split(headerName+v, "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d has %d octets", i, len(line))
		}
		if i > 0 && strings.TrimSpace(line) == "" {
			t.Errorf("line %d is only white space: %q", i, v)
		}
	}
	msg, err := mail.ReadMessage(strings.NewReader(headerName + v + "\r\nSubject: after\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v on %q", err, v)
	}
	if n := len(msg.Header); n != 2 {
		t.Errorf("mail parser sees %d header fields, want 2: %v", n, msg.Header)
	}
	if got := msg.Header.Get("Subject"); got != "after" {
		t.Errorf("next field damaged: Subject = %q", got)
	}
	ar := msg.Header["Authentication-Results"]
	if len(ar) != 1 {
		t.Fatalf("mail parser sees %d Authentication-Results fields, want 1", len(ar))
	}
	id1, res1, err1 := Parse(v)
	id2, res2, err2 := Parse(ar[0])
	if err1 != nil || err2 != nil {
		t.Fatalf("Parse errors: %v / %v on %q", err1, err2, v)
	}
	if id1 != id2 || !reflect.DeepEqual(res1, res2) {
		t.Errorf("unfolded value parses differently:\n%q %#v\n%q %#v", id1, res1, id2, res2)
	}
}

func TestInjection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		id      string
		results []Result
		want    []Result // what Parse must give back
	}{
		{
			name:    "CRLF header in property value",
			id:      "mx.example.org",
			results: []Result{{Method: "spf", Value: "pass", Props: []Property{{"smtp", "mailfrom", "a@example.com\r\nX-Evil: 1"}}}},
			want:    []Result{{Method: "spf", Value: "pass", Props: []Property{{"smtp", "mailfrom", "a@example.com X-Evil: 1"}}}},
		},
		{
			name:    "bare LF and CR in helo",
			id:      "mx.example.org",
			results: []Result{{Method: "spf", Value: "none", Props: []Property{{"smtp", "helo", "evil\nX-Evil: 1\rY: 2"}}}},
			want:    []Result{{Method: "spf", Value: "none", Props: []Property{{"smtp", "helo", "evil X-Evil: 1 Y: 2"}}}},
		},
		{
			name:    "CRLF in authserv-id",
			id:      "mx.example.org\r\nX-Evil: 1",
			results: []Result{{Method: "spf", Value: "pass"}},
			want:    []Result{{Method: "spf", Value: "pass"}},
		},
		{
			name:    "reason with quotes and backslashes",
			id:      "mx.example.org",
			results: []Result{{Method: "dkim", Value: "fail", Reason: `a "quoted" \" part\ and \\"; dkim=pass`}},
			want:    []Result{{Method: "dkim", Value: "fail", Reason: `a "quoted" \" part\ and \\"; dkim=pass`}},
		},
		{
			name:    "comment with unbalanced parens",
			id:      "mx.example.org",
			results: []Result{{Method: "spf", Value: "fail", Comment: `x)) ; dkim=pass (y \`, Props: []Property{{"smtp", "mailfrom", "a@example.com"}}}},
			want:    []Result{{Method: "spf", Value: "fail", Comment: `x)) ; dkim=pass (y \`, Props: []Property{{"smtp", "mailfrom", "a@example.com"}}}},
		},
		{
			name:    "comment opening only",
			id:      "mx.example.org",
			results: []Result{{Method: "spf", Value: "fail", Comment: `(((`}, {Method: "dkim", Value: "none"}},
			want:    []Result{{Method: "spf", Value: "fail", Comment: `(((`}, {Method: "dkim", Value: "none"}},
		},
		{
			name:    "semicolon result smuggling in value",
			id:      "mx.example.org",
			results: []Result{{Method: "dkim", Value: "fail", Props: []Property{{"header", "d", "example.com; dkim=pass header.d=bank.example"}}}},
			want:    []Result{{Method: "dkim", Value: "fail", Props: []Property{{"header", "d", "example.com; dkim=pass header.d=bank.example"}}}},
		},
		{
			name:    "NUL and other controls",
			id:      "mx.example.org",
			results: []Result{{Method: "spf", Value: "pass", Reason: "a\x00b\x1bc\x7fd\te", Props: []Property{{"smtp", "mailfrom", "x\x00@example.com"}}}},
			want:    []Result{{Method: "spf", Value: "pass", Reason: "a b c d e", Props: []Property{{"smtp", "mailfrom", "x @example.com"}}}},
		},
		{
			name:    "invalid UTF-8 and 8-bit text",
			id:      "mx.example.org",
			results: []Result{{Method: "spf", Value: "pass", Comment: "caf\xc3\xa9 \xff\xfe end", Props: []Property{{"smtp", "mailfrom", "jösé@bücher.example"}}}},
			want:    []Result{{Method: "spf", Value: "pass", Comment: "caf? end", Props: []Property{{"smtp", "mailfrom", "j?s?@xn--bcher-kva.example"}}}},
		},
		{
			name:    "unicode line separators",
			id:      "mx.example.org",
			results: []Result{{Method: "spf", Value: "pass", Reason: "a\u2028X-Evil: 1\u0085b"}},
			want:    []Result{{Method: "spf", Value: "pass", Reason: "a X-Evil: 1 b"}},
		},
		{
			name: "invalid keywords are dropped, not repaired",
			id:   "mx.example.org",
			results: []Result{
				{Method: "spf\r\nX-Evil", Value: "pass"},
				{Method: "dkim", Value: "pass; spf=pass"},
				{Method: "dkim", Value: "pass-"},
				{Method: "", Value: "pass"},
				{Method: "dmarc", Value: "FAIL", Props: []Property{{"header", "from", "example.com"}, {"header x", "from", "a"}, {"header", "from=", "b"}, {"", "d", "c"}}},
			},
			want: []Result{{Method: "dmarc", Value: "fail", Props: []Property{{"header", "from", "example.com"}}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := Format(tc.id, tc.results)
			checkField(t, v)
			if strings.Contains(v, "\nX-Evil") {
				t.Errorf("injected header line: %q", v)
			}
			_, got, err := Parse(v)
			if err != nil {
				t.Fatalf("Parse(%q): %v", v, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(Format()) =\n%#v\nwant\n%#v\nfield: %q", got, tc.want, v)
			}
		})
	}
}

func TestAllDroppedWritesNone(t *testing.T) {
	t.Parallel()
	got := Format("mx.example.org", []Result{{Method: "bad method", Value: "pass"}})
	if want := " mx.example.org; none"; got != want {
		t.Errorf("Format() = %q, want %q", got, want)
	}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 1000)
	tests := []struct {
		name string
		fn   func(string) string
		in   string
		want string
	}{
		{"value control chars", sanitizeValue, " a\r\n\tb\x00 ", "a b"},
		{"value U-label domain", sanitizeValue, "Bücher.example", "xn--bcher-kva.example"},
		{"value U-label after at", sanitizeValue, "user@münchen.example", "user@xn--mnchen-3ya.example"},
		{"value non-domain unicode", sanitizeValue, "bü cher", "b? cher"},
		{"value symbol label refused", sanitizeValue, "☃.example", "?.example"},
		{"value truncated without marker", sanitizeValue, long, long[:maxValueLen]},
		{"text truncated with marker", sanitizeText, long, long[:maxTextLen-3] + "..."},
		{"text truncated before trailing space", sanitizeText, strings.Repeat("a ", 200), strings.TrimSpace(strings.Repeat("a ", 126)) + "..."},
		{"text invalid utf8", sanitizeText, "a\xffb", "a b"},
		{"text 8-bit", sanitizeText, "naïve", "na?ve"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.fn(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPunycode uses RFC 3492 §7.1 samples and well-known A-labels.
func TestPunycode(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"bücher", "bcher-kva"},
		{"münchen", "mnchen-3ya"},
		{"españa", "espaa-rta"},
		{"他们为什么不说中文", "ihqwcrb4cv8a8dqg056pqjye"},                    // RFC 3492 §7.1 (B)
		{"Pročprostěnemluvíčesky", "Proprostnemluvesky-uyb24dma41a"}, // RFC 3492 §7.1 (C)
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			if got := punycode([]rune(tc.in)); got != tc.want {
				t.Errorf("punycode(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestFolding(t *testing.T) {
	t.Parallel()
	sig := func(d, s, b string) Result {
		return Result{Method: "dkim", Value: "pass", Props: []Property{
			{"header", "d", d}, {"header", "i", "@" + d}, {"header", "s", s}, {"header", "a", "rsa-sha256"}, {"header", "b", b}}}
	}
	var five []Result
	for i, d := range []string{"example.com", "mail.example.net", "lists.example.org", "esp.example", "a-very-long-subdomain-name.bulk-sender.example.co.uk"} {
		five = append(five, sig(d, "selector"+strings.Repeat("x", i*5), "AbCdEfGh12+/"+strings.Repeat("Q", i*8)+"="))
	}
	tests := []struct {
		name    string
		results []Result
	}{
		{"five dkim signatures", five},
		{"long reason and comment", []Result{{Method: "dkim", Value: "fail",
			Comment: strings.Repeat("comment words here ", 12),
			Reason:  strings.Repeat(`reason "with" quotes \ and words `, 7),
			Props:   []Property{{"header", "d", "example.com"}}}}},
		{"many properties", []Result{{Method: "auth", Value: "pass", Props: func() []Property {
			var ps []Property
			for i := 0; i < 30; i++ {
				ps = append(ps, Property{"smtp", "auth", strings.Repeat("u", i) + "@example.com"})
			}
			return ps
		}()}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := Format("mx.example.org", tc.results)
			checkField(t, v)
			// Every unit here is shorter than 76 octets, so a fold point
			// always exists and no line may exceed 78.
			for i, line := range strings.Split(headerName+v, "\r\n") {
				if len(line) > maxLineLen {
					t.Errorf("line %d has %d octets: %q", i, len(line), line)
				}
			}
			_, got, err := Parse(v)
			if err != nil {
				t.Fatal(err)
			}
			_, want := normalize("", tc.results)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse(Format()) =\n%#v\nwant\n%#v", got, want)
			}
		})
	}
}

// TestFoldingUnbreakable checks that an overlong unit gets a line of its own
// and stays within 998 octets.
func TestFoldingUnbreakable(t *testing.T) {
	t.Parallel()
	b := strings.Repeat("A", 200)
	quotes := strings.Repeat(`"`, 2000) // every octet escaped: the worst case
	v := Format(strings.Repeat("x", 2000), []Result{{Method: "dkim", Value: "pass",
		Props: []Property{{"header", "d", "example.com"}, {"header", "b", b}, {"header", "s", quotes}, {"header", "i", "@example.com"}}}})
	checkField(t, v)
	lines := strings.Split(headerName+v, "\r\n")
	found := false
	for _, line := range lines {
		if line == "\theader.b="+b {
			found = true
		}
		if len(line) > maxLineLen && !strings.HasPrefix(line, "\theader.") && !strings.HasPrefix(line, headerName+" xxx") {
			t.Errorf("line over %d octets that is not one unit: %q", maxLineLen, line)
		}
	}
	if !found {
		t.Errorf("long header.b not on a line of its own:\n%s", strings.Join(lines, "\n"))
	}
}

func BenchmarkFormat(b *testing.B) {
	results := []Result{
		{Method: "spf", Value: "pass", Props: []Property{{"smtp", "mailfrom", "sender@example.com"}}},
		{Method: "dkim", Value: "pass", Props: []Property{{"header", "d", "example.com"}, {"header", "s", "sel"}, {"header", "b", "AbCd/EfG"}}},
		{Method: "dmarc", Value: "pass", Props: []Property{{"header", "from", "example.com"}}},
	}
	for b.Loop() {
		Format("mx.example.org", results)
	}
}

func BenchmarkAuthservID(b *testing.B) {
	v := Format("mx.example.org", []Result{{Method: "spf", Value: "pass", Props: []Property{{"smtp", "mailfrom", "sender@example.com"}}}})
	for b.Loop() {
		if _, err := AuthservID(v); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHugeInputs feeds large hostile values through every entry
// point; all work is linear, so this finishes quickly, and the output stays
// bounded.
func TestHugeInputs(t *testing.T) {
	t.Parallel()
	const n = 1 << 18
	inputs := map[string]string{
		"nested comments":   strings.Repeat("(", n),
		"closed nesting":    strings.Repeat("(", n) + strings.Repeat(")", n) + " mx.example.org; none",
		"semicolons":        "mx.example.org" + strings.Repeat(";", n),
		"backslashes":       `"` + strings.Repeat(`\`, n),
		"long token":        strings.Repeat("a", n) + "; none",
		"many results":      "mx.example.org" + strings.Repeat("; spf=pass smtp.mailfrom=a@example.com", n/40),
		"CRLF":              strings.Repeat("\r\n", n),
		"quoted semicolons": `mx.example.org; spf=pass reason="` + strings.Repeat(";", n) + `"`,
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := AuthservID(in); err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("AuthservID error %v", err)
			}
			if _, _, err := Parse(in); err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse error %v", err)
			}
			v := Format(in, []Result{{Method: "spf", Value: "pass", Reason: in, Comment: in, Props: []Property{{"smtp", "mailfrom", in}}}})
			checkField(t, v)
			if len(v) > 4000 {
				t.Errorf("output of %d octets is not bounded", len(v))
			}
		})
	}
}

// TestParseVersion checks that a field of an unknown version is recognized
// as such and still names its authserv-id.
func TestParseVersion(t *testing.T) {
	t.Parallel()
	id, results, err := Parse(" mx.example.org 2 (future); foo=bar")
	if !errors.Is(err, ErrVersion) || id != "mx.example.org" || results != nil {
		t.Errorf("Parse() = %q, %v, %v; want id, no results and ErrVersion", id, results, err)
	}
	for _, v := range []string{" mx.example.org 1; none", " mx.example.org 01; none"} {
		if _, _, err := Parse(v); err != nil {
			t.Errorf("Parse(%q): %v", v, err)
		}
	}
}
