package keystore

import (
	"errors"
	"strings"
	"testing"
)

// checkTableErrors asserts what every table parser promises about its
// errors: each is an *Error of kind ErrTable, in the named file, on a line
// that exists.
func checkTableErrors(t *testing.T, src string, errs []error) {
	t.Helper()
	nlines := strings.Count(src, "\n") + 1
	for _, err := range errs {
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrTable) || e.File != "t" || e.Line < 1 || e.Line > nlines || e.Msg == "" {
			t.Errorf("bad error %#v", err)
		}
	}
}

// FuzzParseSigningTable checks that the SigningTable parser never panics,
// reports errors on existing lines, and accepts only entries Lookup can
// use: lower-case unique patterns, valid key names, and in plain tables no
// '*' outside "*" and "user@*". Seeds are in
// testdata/fuzz/FuzzParseSigningTable/.
func FuzzParseSigningTable(f *testing.F) {
	f.Add("*@example.com key1\n*@*.example.com key2 # comment\n", true)
	f.Add("example.com k\r\n.example.com k\nuser@* %\n* k\n", false)
	f.Add("*@(a|b).example k\nx k:signer\n\n\t# only\n", true)
	f.Fuzz(func(t *testing.T, src string, refile bool) {
		entries, errs := parseSigningTable("t", []byte(src), refile)
		checkTableErrors(t, src, errs)
		seen := map[string]bool{}
		for _, e := range entries {
			if e.pattern != strings.ToLower(e.pattern) || e.pattern == "" || seen[e.pattern] {
				t.Errorf("accepted pattern %q", e.pattern)
			}
			seen[e.pattern] = true
			if e.keyName != "%" && CheckKeyName(e.keyName) != nil {
				t.Errorf("accepted key name %q", e.keyName)
			}
			if refile && strings.ContainsAny(e.pattern, refileSpecial) {
				t.Errorf("accepted refile pattern %q", e.pattern)
			}
			if !refile && strings.Contains(e.pattern, "*") && e.pattern != "*" && !strings.HasSuffix(e.pattern, "@*") {
				t.Errorf("accepted plain pattern %q", e.pattern)
			}
			if refile && !starMatch(e.pattern, strings.ReplaceAll(e.pattern, "*", "")) {
				t.Errorf("pattern %q does not match itself without stars", e.pattern)
			}
			if _, line := splitSource(e.source); line < 1 {
				t.Errorf("entry without a line: %+v", e)
			}
		}
	})
}

// FuzzParseKeyTable checks that the KeyTable parser never panics, reports
// errors on existing lines, accepts only valid unique key definitions, and
// never repeats a line's third value (which may be a key) in an error
// about that line.
// Seeds are in testdata/fuzz/FuzzParseKeyTable/.
func FuzzParseKeyTable(f *testing.F) {
	f.Add("k1 example.com:sel:/etc/k.pem\nk2 %:s:/k # hosted\n")
	f.Add("inline example.com:s:MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nrel example.com:s:./k\n")
	f.Add("dup a.example:s:/a\ndup b.example:s:/b\nbad\n")
	f.Fuzz(func(t *testing.T, src string) {
		specs, errs := parseKeyTable("t", []byte(src))
		checkTableErrors(t, src, errs)
		seen := map[string]bool{}
		for _, ks := range specs {
			if err := checkKeySpec(ks); err != nil || seen[ks.Name] {
				t.Errorf("accepted %+v: %v", ks, err)
			}
			seen[ks.Name] = true
		}
		for _, l := range splitTable([]byte(src)) {
			parts := strings.SplitN(l.value, ":", 3)
			if len(parts) != 3 {
				continue
			}
			secret := strings.TrimSpace(parts[2])
			if len(secret) < 8 || strings.HasPrefix(secret, "/") || strings.Contains(l.key+parts[0]+parts[1], secret) {
				continue
			}
			for _, err := range errs {
				var e *Error
				if errors.As(err, &e) && e.Line == l.line && strings.Contains(e.Msg, secret) {
					t.Errorf("error repeats the third value %q: %v", secret, err)
				}
			}
		}
	})
}

// FuzzStarMatch checks the refile matcher against a simple recursive
// definition of '*'-only globs.
func FuzzStarMatch(f *testing.F) {
	f.Add("*a*b*", "xaybz")
	f.Add("*@*.example.com", "a@b.example.com")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 200 || len(s) > 1000 {
			return
		}
		if got, want := starMatch(pattern, s), refMatch(pattern, s); got != want {
			t.Errorf("starMatch(%q, %q) = %v, want %v", pattern, s, got, want)
		}
	})
}

// refMatch is a dynamic-programming glob matcher: m[i][j] says whether
// p[i:] matches s[j:].
func refMatch(p, s string) bool {
	m := make([][]bool, len(p)+1)
	for i := range m {
		m[i] = make([]bool, len(s)+1)
	}
	m[len(p)][len(s)] = true
	for i := len(p) - 1; i >= 0; i-- {
		for j := len(s); j >= 0; j-- {
			if p[i] == '*' {
				m[i][j] = m[i+1][j] || (j < len(s) && m[i][j+1])
			} else {
				m[i][j] = j < len(s) && p[i] == s[j] && m[i+1][j+1]
			}
		}
	}
	return m[0][0]
}
