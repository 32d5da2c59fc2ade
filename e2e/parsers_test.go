package e2e

import (
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/authmilter/authmilter/config"
)

// These tests need no Postfix: they check the harness's readers of the
// contrib snippets, of swaks transcripts and of Authentication-Results, and
// its writer of authmilter configuration files.

func TestParseMainCF(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    []Param
		wantErr bool
	}{
		{"empty", "", nil, false},
		{"comments and blanks", "# c\n\n   # indented comment\n", nil, false},
		{"simple", "a = b\nc=d e\n", []Param{{"a", "b", 1}, {"c", "d e", 2}}, false},
		{"continuation", "x = 1\n  2\n\t3\ny =\n  z\n", []Param{{"x", "1 2 3", 1}, {"y", "z", 4}}, false},
		{"empty value", "mydestination =\n", []Param{{"mydestination", "", 1}}, false},
		{"CRLF", "a = b\r\n", []Param{{"a", "b", 1}}, false},
		{"continuation first", "  x\n", nil, true},
		{"no equals", "just words\n", nil, true},
		{"space in name", "a b = c\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMainCF(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrConfigSyntax) {
					t.Errorf("error %v does not wrap ErrConfigSyntax", err)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseMasterCF(t *testing.T) {
	t.Parallel()
	in := `# comment
smtp inet n - y - - smtpd
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }
  -o milter_macro_daemon_name=ORIGINATING
pickup unix n - y 60 1 pickup
`
	entries, err := ParseMasterCF(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("got %d entries, want 3: %+v", len(entries), entries)
	}
	sub := entries[1]
	if sub.Service != "submission" || sub.Chroot != "y" || sub.Command[0] != "smtpd" || sub.Line != 3 {
		t.Errorf("submission entry = %+v", sub)
	}
	opts, err := sub.Options()
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{
		{"syslog_name", "postfix/submission", 3},
		{"smtpd_client_restrictions", "permit_sasl_authenticated, reject", 3},
		{"milter_macro_daemon_name", "ORIGINATING", 3},
	}
	if !reflect.DeepEqual(opts, want) {
		t.Errorf("options = %+v, want %+v", opts, want)
	}

	for _, bad := range []string{"smtp inet n - y - smtpd\n", "  -o x=y\n"} {
		if _, err := ParseMasterCF(strings.NewReader(bad)); !errors.Is(err, ErrConfigSyntax) {
			t.Errorf("ParseMasterCF(%q) err = %v, want ErrConfigSyntax", bad, err)
		}
	}
	e, _ := ParseMasterCF(strings.NewReader("s inet n - n - - smtpd -o\n"))
	if _, err := e[0].Options(); !errors.Is(err, ErrConfigSyntax) {
		t.Errorf("dangling -o: err = %v", err)
	}
}

// TestContribSnippet checks the shipped snippets for what the daemon and
// the tests rely on, without running Postfix (TestContribKnownToPostfix
// has Postfix check them).
func TestContribSnippet(t *testing.T) {
	t.Parallel()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadContrib(filepath.Join(root, "contrib", "postfix"))
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for _, p := range c.MainParams("inet:127.0.0.1:1") {
		params[p.Name] = p.Value
	}
	for name, want := range map[string]string{
		"smtpd_milters":         "inet:127.0.0.1:1",
		"non_smtpd_milters":     "inet:127.0.0.1:1",
		"milter_default_action": "tempfail",
		"milter_protocol":       "6",
	} {
		if params[name] != want {
			t.Errorf("%s = %q, want %q", name, params[name], want)
		}
	}
	// Each macro at the stage where the daemon reads it: go-milter
	// replaces the macro set at every stage.
	for stage, macros := range map[string][]string{
		"milter_connect_macros":     {"j", "{daemon_name}", "{client_addr}", "{client_name}", "{client_ptr}", "_"},
		"milter_mail_macros":        {"i", "{auth_type}", "{auth_authen}", "{auth_author}", "{mail_addr}"},
		"milter_rcpt_macros":        {"i", "{rcpt_addr}"},
		"milter_end_of_data_macros": {"i"},
	} {
		have := map[string]bool{}
		for _, m := range strings.Fields(params[stage]) {
			have[m] = true
		}
		for _, m := range macros {
			if !have[m] {
				t.Errorf("%s lacks %s: %q", stage, m, params[stage])
			}
		}
	}
	if !reflect.DeepEqual(c.SubmissionOptions, []Param{{"milter_macro_daemon_name", "ORIGINATING", c.SubmissionOptions[0].Line}}) {
		t.Errorf("submission milter options = %+v", c.SubmissionOptions)
	}
}

func TestParseSwaksTranscript(t *testing.T) {
	t.Parallel()
	transcript := `=== Trying 127.0.0.1:25...
=== Connected to 127.0.0.1.
<-  220 mx.test ESMTP Postfix
 -> EHLO h.example
<-  250-mx.test
<-  250-XCLIENT NAME ADDR PROTO HELO
<-  250 CHUNKING
 -> XCLIENT ADDR=192.0.2.10 HELO=h.example
<-  220 mx.test ESMTP Postfix
 -> MAIL FROM:<a@example.org>
<-  250 2.1.0 Ok
 -> RCPT TO:<b@example.net>
<-  250 2.1.5 Ok
 -> DATA
<-  354 End data with <CR><LF>.<CR><LF>
 -> Subject: x
 -> 
 -> 250 looks like a reply but is data
 -> .
<** 451 4.4.3 Temporary DNS failure
 -> QUIT
<-  221 2.0.0 Bye
=== Connection closed with remote host.
`
	got := parseSwaksTranscript(transcript)
	want := []Exchange{
		{"", 220, "mx.test ESMTP Postfix"},
		{"EHLO h.example", 250, "CHUNKING"},
		{"XCLIENT ADDR=192.0.2.10 HELO=h.example", 220, "mx.test ESMTP Postfix"},
		{"MAIL FROM:<a@example.org>", 250, "2.1.0 Ok"},
		{"RCPT TO:<b@example.net>", 250, "2.1.5 Ok"},
		{"DATA", 354, "End data with <CR><LF>.<CR><LF>"},
		{"<message>", 451, "4.4.3 Temporary DNS failure"},
		{"QUIT", 221, "2.0.0 Bye"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	r := SwaksResult{Exchanges: got}
	if f := r.Final(); f.Command != "<message>" || f.Code != 451 {
		t.Errorf("Final() = %+v", f)
	}
}

func TestParseAuthResults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    *AuthResults
		wantErr bool
	}{
		{
			name: "spf and two dkim",
			in: "mx.test; spf=pass smtp.mailfrom=user@example.org;" +
				" dkim=pass header.d=example.org header.s=sel header.b=AbC/+9=;" +
				" dkim=fail (body hash mismatch) header.d=other.example header.s=s2",
			want: &AuthResults{AuthservID: "mx.test", Results: []MethodResult{
				{Method: "spf", Result: "pass", Props: map[string]string{"smtp.mailfrom": "user@example.org"}},
				{Method: "dkim", Result: "pass", Props: map[string]string{"header.d": "example.org", "header.s": "sel", "header.b": "AbC/+9="}},
				{Method: "dkim", Result: "fail", Props: map[string]string{"header.d": "other.example", "header.s": "s2"}},
			}},
		},
		{
			name: "a header.b starting with / (OpenDKIM writes it bare)",
			in:   "opendkim.test;  dkim=pass header.d=ours.example header.b=/3Tdoa+R;  dkim-atps=neutral",
			want: &AuthResults{AuthservID: "opendkim.test", Results: []MethodResult{
				{Method: "dkim", Result: "pass", Props: map[string]string{"header.d": "ours.example", "header.b": "/3Tdoa+R"}},
				{Method: "dkim-atps", Result: "neutral", Props: map[string]string{}},
			}},
		},
		{
			name: "version, comments, quoted reason, case",
			in:   `MX.test 1 (our (nested) comment); SPF = SoftFail reason="not \"listed\"" smtp.mailfrom = a@b.example (x)`,
			want: &AuthResults{AuthservID: "MX.test", Version: "1", Results: []MethodResult{
				{Method: "spf", Result: "softfail", Reason: `not "listed"`, Props: map[string]string{"smtp.mailfrom": "a@b.example"}},
			}},
		},
		{
			name: "method version",
			in:   "mx.test; dkim/1=pass header.d=x.example",
			want: &AuthResults{AuthservID: "mx.test", Results: []MethodResult{
				{Method: "dkim", Result: "pass", Props: map[string]string{"header.d": "x.example"}},
			}},
		},
		{name: "none", in: "mx.test; none", want: &AuthResults{AuthservID: "mx.test"}},
		{name: "no result", in: "mx.test", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "unterminated comment", in: "mx.test; spf=pass (oops", wantErr: true},
		{name: "unterminated quote", in: `mx.test; spf=pass reason="x`, wantErr: true},
		{name: "missing result", in: "mx.test; spf= ;", wantErr: true},
		{name: "bare word property", in: "mx.test; spf=pass mailfrom=x", wantErr: true},
		{name: "duplicate property", in: "mx.test; spf=pass smtp.mailfrom=a smtp.mailfrom=b", wantErr: true},
		{name: "junk after id", in: "mx.test a b; spf=pass", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAuthResults(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrAuthResults) {
					t.Errorf("error %v does not wrap ErrAuthResults", err)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseAuthResults(f *testing.F) {
	for _, s := range []string{
		"mx.test; spf=pass smtp.mailfrom=user@example.org",
		"mx.test 1; dkim=pass (good) header.d=a.example header.b=Ab/+=; dkim=fail header.d=b",
		`x; none`, `x; spf=pass reason="a \" (b)"`, "x (a (b) c); arc/1=pass",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ar, err := ParseAuthResults(s)
		if err != nil {
			if !errors.Is(err, ErrAuthResults) {
				t.Fatalf("error %v does not wrap ErrAuthResults", err)
			}
			return
		}
		if ar.AuthservID == "" {
			t.Fatalf("accepted %q without an authserv-id", s)
		}
		for _, r := range ar.Results {
			if r.Method == "" || r.Result == "" {
				t.Fatalf("accepted %q with an empty method or result: %+v", s, r)
			}
		}
	})
}

func FuzzParseMainCF(f *testing.F) {
	for _, s := range []string{"a = b\n  c\n# x\n", "mydestination =\n", "  x\n", "x\ny = z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		params, err := ParseMainCF(strings.NewReader(s))
		if err != nil {
			if !errors.Is(err, ErrConfigSyntax) {
				t.Fatalf("error %v does not wrap ErrConfigSyntax", err)
			}
			return
		}
		for _, p := range params {
			if p.Name == "" || strings.ContainsAny(p.Name, " \t\n") {
				t.Fatalf("bad name %q from %q", p.Name, s)
			}
		}
	})
}

func FuzzParseMasterCF(f *testing.F) {
	for _, s := range []string{
		"smtp inet n - y - - smtpd\n  -o a=b\n  -o { c = d e }\n",
		"s inet n - n - - smtpd -o\n", "  -o x=y\n", "a b c d e f g\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := ParseMasterCF(strings.NewReader(s))
		if err != nil {
			if !errors.Is(err, ErrConfigSyntax) {
				t.Fatalf("error %v does not wrap ErrConfigSyntax", err)
			}
			return
		}
		for _, e := range entries {
			if len(e.Command) == 0 {
				t.Fatalf("entry without a command from %q", s)
			}
			if _, err := e.Options(); err != nil && !errors.Is(err, ErrConfigSyntax) {
				t.Fatalf("Options error %v does not wrap ErrConfigSyntax", err)
			}
		}
	})
}

// TestInCI pins down when a missing Postfix is a failure rather than a
// skip. Not parallel: it sets the environment.
func TestInCI(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{
		{"", false}, {"false", false}, {"0", false},
		{"true", true}, {"1", true}, {"yes", true}, {" true ", true},
	} {
		t.Run("CI="+tc.value, func(t *testing.T) {
			t.Setenv("CI", tc.value)
			if got := InCI(); got != tc.want {
				t.Errorf("InCI() with CI=%q = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

// TestDaemonConfigTOML checks that every setting the harness writes reaches
// authmilter's configuration as meant, read by the daemon's own parser: a
// mistake here would otherwise show up only as a daemon that does not
// start, or worse, one that silently runs on a default.
func TestDaemonConfigTOML(t *testing.T) {
	t.Parallel()
	off := false
	cfg := DaemonConfig{
		Listen:           "unix:/run/e2e/authmilter.sock",
		SocketMode:       "0666",
		AuthservID:       "mx.test",
		Nameservers:      []string{"127.0.0.1:5353", "[::1]:53"},
		DNSTimeout:       "1s",
		OnDNSError:       "tempfail",
		InternalNetworks: []string{"127.0.0.0/8", "192.0.2.128/25"},
		DMARC: DMARCSettings{
			Enforce:              &off,
			Quarantine:           "header",
			QuarantineHeader:     "X-E2E-Quarantine",
			TrustedForwarders:    []string{"198.51.100.7/32"},
			TrustedRelays:        []string{"203.0.113.25/32", "2001:db8::25/128"},
			Mode:                 "rfc7489",
			OnDNSError:           "tempfail",
			MailingLists:         "exempt",
			MultipleAuthors:      "strictest",
			MalformedFrom:        "accept",
			RelayWithoutReceived: "spf-none",
			RejectText:           "Rejected (e2e)",
		},
	}
	got, err := config.Parse("e2e.toml", strings.NewReader(cfg.TOML()))
	if err != nil {
		t.Fatalf("%v\n%s", err, cfg.TOML())
	}
	prefixes := func(ps []netip.Prefix) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.String())
		}
		return out
	}
	d := got.DMARC
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"listen", got.Listen, cfg.Listen},
		{"internal_networks", prefixes(got.InternalNetworks), cfg.InternalNetworks},
		{"verify.on_dns_error", got.Verify.OnDNSError, cfg.OnDNSError},
		{"dmarc.enforce", d.Enforce, false},
		{"dmarc.quarantine", d.Quarantine, cfg.DMARC.Quarantine},
		{"dmarc.quarantine_header", d.QuarantineHeader, cfg.DMARC.QuarantineHeader},
		{"dmarc.trusted_forwarders", prefixes(d.TrustedForwarders), cfg.DMARC.TrustedForwarders},
		{"dmarc.trusted_relays", prefixes(d.TrustedRelays), cfg.DMARC.TrustedRelays},
		{"dmarc.mode", d.Mode, cfg.DMARC.Mode},
		{"dmarc.on_dns_error", d.OnDNSError, cfg.DMARC.OnDNSError},
		{"dmarc.mailing_lists", d.MailingLists, cfg.DMARC.MailingLists},
		{"dmarc.multiple_authors", d.MultipleAuthors, cfg.DMARC.MultipleAuthors},
		{"dmarc.malformed_from", d.MalformedFrom, cfg.DMARC.MalformedFrom},
		{"dmarc.relay_without_received", d.RelayWithoutReceived, cfg.DMARC.RelayWithoutReceived},
		{"dmarc.reject_text", d.RejectText, cfg.DMARC.RejectText},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v\n%s", c.name, c.got, c.want, cfg.TOML())
		}
	}
	// Left empty, a setting keeps the daemon's default.
	def, err := config.Parse("e2e.toml", strings.NewReader(DaemonConfig{AuthservID: "mx.test"}.TOML()))
	if err != nil {
		t.Fatal(err)
	}
	if want := config.Default().DMARC; !reflect.DeepEqual(def.DMARC, want) {
		t.Errorf("an empty DMARCSettings changed [dmarc]:\n got %+v\nwant %+v", def.DMARC, want)
	}
}
