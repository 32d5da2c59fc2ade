package policy

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/authmilter/authmilter/policy/authres"
	"github.com/authmilter/authmilter/resolver"
)

func zone() *resolver.Fake {
	z := resolver.NewFake()
	z.AddTXT("example.org", "v=spf1 ip4:192.0.2.0/24 -all")
	z.AddTXT("mail.example.org", "v=spf1 a -all")
	z.AddA("mail.example.org", "192.0.2.10")
	z.AddTXT("bad.example.org", "v=spf1 ip4:192.0.2.0/33 -all")
	z.Timeout["slow.example.org"] = true
	return z
}

// judge runs one message through an engine, the way the milter does.
func judge(t *testing.T, opts Options, env Envelope, headers ...string) *Verdict {
	t.Helper()
	if opts.AuthservID == "" {
		opts.AuthservID = "mx.test"
	}
	e, err := New(opts, zone())
	if err != nil {
		t.Fatal(err)
	}
	m := e.Begin(context.Background(), env)
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		if v := m.Header(name, value); v != nil {
			return v
		}
	}
	m.EndHeaders()
	if err := m.Body([]byte("Hi.\r\n")); err != nil {
		t.Fatal(err)
	}
	return m.Finish()
}

// ar parses the Authentication-Results field of a verdict.
func ar(t *testing.T, v *Verdict) []authres.Result {
	t.Helper()
	for _, f := range v.Add {
		if f.Name == "Authentication-Results" {
			id, rs, err := authres.Parse(f.Value)
			if err != nil || id != "mx.test" {
				t.Fatalf("Authentication-Results %q: id %q, %v", f.Value, id, err)
			}
			return rs
		}
	}
	t.Fatal("no Authentication-Results")
	return nil
}

func prop(r authres.Result, typ, name string) string {
	for _, p := range r.Props {
		if p.Type == typ && p.Name == name {
			return p.Value
		}
	}
	return ""
}

func TestVerdicts(t *testing.T) {
	t.Parallel()
	ip := net.ParseIP("192.0.2.10")
	other := net.ParseIP("198.51.100.1")
	from := "From: a@example.org"
	cases := []struct {
		name       string
		opts       Options
		env        Envelope
		action     Action
		reply      string
		spf        string
		mailfrom   string
		heloResult string // "" when no HELO entry is expected
	}{
		{"pass", Options{}, Envelope{ClientIP: ip, Helo: "mail.example.org", MailFrom: "a@example.org"}, Accept, "", "pass", "a@example.org", ""},
		{"fail is only reported", Options{}, Envelope{ClientIP: other, Helo: "x.example", MailFrom: "a@example.org"}, Accept, "", "fail", "a@example.org", ""},
		{"permerror", Options{}, Envelope{ClientIP: ip, Helo: "x.example", MailFrom: "a@bad.example.org"}, Accept, "", "permerror", "a@bad.example.org", ""},
		{"null sender checks postmaster@helo", Options{SPFHelo: true}, Envelope{ClientIP: ip, Helo: "mail.example.org"}, Accept, "", "pass", "postmaster@mail.example.org", ""},
		{"helo checked too", Options{SPFHelo: true}, Envelope{ClientIP: ip, Helo: "mail.example.org", MailFrom: "a@example.org"}, Accept, "", "pass", "a@example.org", "pass"},
		{"temperror accepted", Options{}, Envelope{ClientIP: ip, Helo: "x.example", MailFrom: "a@slow.example.org"}, Accept, "", "temperror", "a@slow.example.org", ""},
		{"temperror tempfails", Options{OnDNSError: DNSErrorTempfail}, Envelope{ClientIP: ip, Helo: "x.example", MailFrom: "a@slow.example.org"}, Tempfail, "451 4.4.3 ", "temperror", "a@slow.example.org", ""},
		{"no client address: SPF none", Options{}, Envelope{MailFrom: "a@example.org"}, Accept, "", "none", "a@example.org", ""},
		{"loopback client has no SPF", Options{SPFHelo: true}, Envelope{ClientIP: net.ParseIP("127.0.0.1"), Helo: "localhost", MailFrom: "a@example.org"}, Accept, "", "", "", ""},
		{"authenticated client has no SPF", Options{SPFHelo: true}, Envelope{ClientIP: other, Helo: "laptop", MailFrom: "a@example.org", AuthUser: "alice"}, Accept, "", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := judge(t, tc.opts, tc.env, from, "Subject: x")
			if v.Action != tc.action {
				t.Errorf("action %s, want %s (%v)", v.Action, tc.action, v.Reasons)
			}
			if !strings.HasPrefix(v.Reply.String(), tc.reply) || (tc.reply == "" && v.Reply.Code != 0) {
				t.Errorf("reply %q, want %q", v.Reply, tc.reply)
			}
			rs := ar(t, v)
			if tc.env.AuthUser != "" {
				if rs[0].Method != "auth" || rs[0].Value != "pass" || len(rs[0].Props) != 0 {
					t.Errorf("first result %+v, want auth=pass without the login", rs[0])
				}
				rs = rs[1:]
			}
			if tc.spf == "" {
				for _, r := range rs {
					if r.Method == "spf" {
						t.Errorf("a submission got an SPF result: %+v", r)
					}
				}
				if len(v.Add) != 1 {
					t.Errorf("a submission got Received-SPF: %+v", v.Add)
				}
			} else if rs[0].Method != "spf" || rs[0].Value != tc.spf || prop(rs[0], "smtp", "mailfrom") != tc.mailfrom {
				t.Errorf("first result %+v, want spf=%s smtp.mailfrom=%s", rs[0], tc.spf, tc.mailfrom)
			}
			var helo string
			for _, r := range rs {
				if r.Method == "spf" && prop(r, "smtp", "helo") != "" {
					helo = r.Value
				}
			}
			if helo != tc.heloResult {
				t.Errorf("helo result %q, want %q", helo, tc.heloResult)
			}
			var dkimNone, dmarcSeen bool
			for _, r := range rs {
				dkimNone = dkimNone || (r.Method == "dkim" && r.Value == "none")
				dmarcSeen = dmarcSeen || r.Method == "dmarc"
			}
			if !dkimNone || !dmarcSeen {
				t.Errorf("unsigned message: %+v, want dkim=none and a dmarc entry", rs)
			}
			if v.HeaderFrom != "a@example.org" {
				t.Errorf("HeaderFrom %q", v.HeaderFrom)
			}
			hasRSPF := len(v.Add) == 2 && v.Add[0].Name == "Received-SPF"
			if hasRSPF != (tc.spf != "" && tc.env.ClientIP != nil) {
				t.Errorf("fields %+v", v.Add)
			}
		})
	}
}

func TestForgedResultsIndexes(t *testing.T) {
	t.Parallel()
	hs := []Header{
		{"Authentication-Results", "mx.test; spf=pass"},
		{"Received", "from x"},
		{"authentication-results", "other.example; spf=fail"},
		{"Authentication-Results", " MX.Test ; dkim=pass"},
		{"Authentication-Results", "mx.test.evil.example; dkim=pass"},
		{"Authentication-Results", "(garbage"},
	}
	hs = append(hs,
		Header{"Authentication-Results", "mx.test spf=pass"},                            // 6: no ';'
		Header{"Authentication-Results", "mx.test (x; dkim=pass header.d=bank.example"}, // 7: unterminated comment
		Header{"Authentication-Results", `(\) mx.test; spf=pass`},                       // 8: escaped paren a naive reader skips
		Header{"Authentication-Results", "mx.test.; spf=pass"},                          // 9: trailing dot
		Header{"Authentication-Results", "\"mx.test\"; spf=pass"},                       // 10: quoted
		Header{"Authentication-Results", "other.example; x=mx.test"},                    // 11: not ours
	)
	got := forgedResults(hs, "mx.test")
	want := []HeaderRef{{"Authentication-Results", 10}, {"Authentication-Results", 9}, {"Authentication-Results", 8},
		{"Authentication-Results", 7}, {"Authentication-Results", 6}, {"Authentication-Results", 3}, {"Authentication-Results", 1}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got, want)
		}
	}
}

func TestHeaderLimit(t *testing.T) {
	t.Parallel()
	hs := []string{"From: a@example.org"}
	for i := 0; i < 100; i++ {
		hs = append(hs, "X-Filler: "+strings.Repeat("y", 100))
	}
	v := judge(t, Options{MaxHeaderBytes: 4096}, Envelope{ClientIP: net.ParseIP("192.0.2.1"), MailFrom: "a@example.org"}, hs...)
	if v.Action != Reject || v.Reply.String() != "552 5.3.4 Message header section too large" {
		t.Errorf("got %s %q", v.Action, v.Reply)
	}
}

func TestRawField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value, want string }{
		{"Subject", "hello", "Subject: hello\r\n"},
		{"Subject", "\tindented", "Subject:\tindented\r\n"},
		{"Subject", " two spaces", "Subject:  two spaces\r\n"},
		{"Subject", "", "Subject: \r\n"},
		{"To", "a@x,\r\n b@y", "To: a@x,\r\n b@y\r\n"},
	} {
		if got := string(rawField(tc.name, tc.value)); got != tc.want {
			t.Errorf("rawField(%q, %q) = %q, want %q", tc.name, tc.value, got, tc.want)
		}
	}
}

func TestAbortStopsWork(t *testing.T) {
	t.Parallel()
	e, err := New(Options{AuthservID: "mx.test"}, zone())
	if err != nil {
		t.Fatal(err)
	}
	m := e.Begin(context.Background(), Envelope{ClientIP: net.ParseIP("192.0.2.1"), MailFrom: "a@slow.example.org"})
	m.Header("DKIM-Signature", "v=1; a=rsa-sha256; d=example.org; s=x; h=from; bh=AAAA; b=AAAA")
	m.EndHeaders()
	done := make(chan struct{})
	go func() { m.Abort(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Abort did not return")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{}, zone()); err == nil {
		t.Error("empty authserv-id accepted")
	}
	if _, err := New(Options{AuthservID: "x", OnDNSError: "ignore"}, zone()); err == nil {
		t.Error("bad on_dns_error accepted")
	}
	if _, err := New(Options{AuthservID: "x"}, nil); err == nil {
		t.Error("nil resolver accepted")
	}
}
