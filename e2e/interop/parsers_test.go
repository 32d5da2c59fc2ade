package interop

import (
	"strings"
	"testing"
)

// Output of opendkim 2.11 test mode and dkimpy 1.1.4, as captured on
// Debian 12, for the parsers of peers.go.
const (
	odVerifyOut = "### INSHEADER: idx=0 hname='Authentication-Results' hvalue='opendkim.test;\n" +
		"\tdkim=pass (2048-bit key; unprotected) header.d=x.example header.i=@x.example header.a=rsa-sha256 header.s=rsa header.b=IqQay4a0;\n" +
		"\tdkim-atps=neutral'\n"
	odSignOut = "opendkim: msg.eml:\nDKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=x.example; s=ed;\r\n" +
		"\tt=1796092903; bh=yZQq1c8wjBl0fZ4Wc/oraMCAG1mZJv5v/hlvyFy+t6A=;\r\n" +
		"\th=From:To:Subject:Date;\r\n" +
		"\tb=+ubTtwhMSZOjmUxoDpwRgeek3mYTv4sZWpXpqScW2fL04aA6A23q6zsZNTJtymDDK\r\n" +
		"\t sgBZGVVpmsyUan8sBAaAA==\n"
	dkimpyTraceback = "Traceback (most recent call last):\n  File \"<string>\", line 10, in <module>\n" +
		"dkim.ValidationError: body hash mismatch (got b'FcYL', expected b'j12b')\n"
)

func TestTestModeParsers(t *testing.T) {
	t.Parallel()
	t.Run("authentication-results", func(t *testing.T) {
		v, err := testModeAuthResults(odVerifyOut)
		if err != nil {
			t.Fatal(err)
		}
		want := "opendkim.test; dkim=pass (2048-bit key; unprotected) header.d=x.example header.i=@x.example " +
			"header.a=rsa-sha256 header.s=rsa header.b=IqQay4a0; dkim-atps=neutral"
		if strings.Join(strings.Fields(v), " ") != want || strings.ContainsAny(v, "\r\n\t") {
			t.Errorf("got %q", v)
		}
		if _, err := testModeAuthResults("opendkim: msg.eml: verification failed\n"); err == nil {
			t.Error("no error for output without Authentication-Results")
		}
	})
	t.Run("signature", func(t *testing.T) {
		f, err := testModeSignature(odSignOut)
		if err != nil {
			t.Fatal(err)
		}
		want := "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=x.example; s=ed;\r\n" +
			"\tt=1796092903; bh=yZQq1c8wjBl0fZ4Wc/oraMCAG1mZJv5v/hlvyFy+t6A=;\r\n" +
			"\th=From:To:Subject:Date;\r\n" +
			"\tb=+ubTtwhMSZOjmUxoDpwRgeek3mYTv4sZWpXpqScW2fL04aA6A23q6zsZNTJtymDDK\r\n" +
			"\t sgBZGVVpmsyUan8sBAaAA=="
		if f != want {
			t.Errorf("got\n%q\nwant\n%q", f, want)
		}
		if _, err := testModeSignature("opendkim: msg.eml:\n"); err == nil {
			t.Error("no error for output without a signature")
		}
	})
	t.Run("dkimpy verdict", func(t *testing.T) {
		for _, tc := range []struct {
			out  string
			want bool
		}{
			{dkimpyTraceback, true},
			{"Traceback ...\ndkim.KeyFormatError: missing public key: rsa._domainkey.x.example.\n", true},
			{"Traceback ...\ndkim.DnsTimeoutError: dns.exception.Timeout: ...\n", false},
			{"Traceback ...\nModuleNotFoundError: No module named 'dkim'\n", false},
			{"", false},
		} {
			if got := dkimpyVerdict(tc.out); got != tc.want {
				t.Errorf("dkimpyVerdict(%q) = %t, want %t", tc.out, got, tc.want)
			}
		}
	})
}

// FuzzTestModeOutput: the parsers of peer output never panic, and what
// they return keeps their promises: an unfolded Authentication-Results
// value, and a signature field that starts with its name, has only CRLF
// line breaks, each followed by white space (a folded field).
func FuzzTestModeOutput(f *testing.F) {
	for _, s := range []string{odVerifyOut, odSignOut, dkimpyTraceback, "", "'", "DKIM-Signature:\n\n", "hname='Authentication-Results' hvalue='"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		if v, err := testModeAuthResults(out); err == nil && strings.ContainsAny(v, "\r\n\t") {
			t.Errorf("Authentication-Results value %q is not unfolded", v)
		}
		if field, err := testModeSignature(out); err == nil {
			if !strings.HasPrefix(field, "DKIM-Signature:") {
				t.Errorf("signature %q does not start with the field name", field)
			}
			for _, line := range strings.Split(field, "\r\n")[1:] {
				if line == "" || (line[0] != ' ' && line[0] != '\t') || strings.ContainsAny(line, "\n") {
					t.Errorf("signature %q: line %q is not a continuation line", field, line)
				}
			}
		}
		_ = dkimpyVerdict(out)
	})
}
