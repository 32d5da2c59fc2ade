package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authmilter/authmilter/config"
	"github.com/authmilter/authmilter/policy"
	"github.com/authmilter/authmilter/policy/authres"
	"github.com/authmilter/authmilter/resolver"
	"github.com/authmilter/authmilter/resolver/dnstest"
)

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := runCmd(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "authmilter ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	code, _, errs := runCmd(t, "", "frobnicate")
	if code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("got %d %q", code, errs)
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	good := writeFile(t, "good.toml", "listen = \"inet:127.0.0.1:8891\"\nauthserv_id = \"mx.example.net\"\n")
	code, out, errs := runCmd(t, "", "config", "check", "-c", good)
	if code != 0 || !strings.Contains(out, "OK") {
		t.Errorf("good config: %d %q %q", code, out, errs)
	}
	bad := writeFile(t, "bad.toml", "listen = \"tcp:nowhere\"\nauthserv_id = \"mx.example.net\"\nbogus = 1\n")
	code, _, errs = runCmd(t, "", "config", "check", "-c", bad)
	if code != 1 {
		t.Errorf("bad config: exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], bad+":1: ") || !strings.HasPrefix(lines[1], bad+":3: ") {
		t.Errorf("want one error for line 1 and one for line 3, got:\n%s", errs)
	}
}

// verify drives the same policy code as the daemon through a real DNS
// server on loopback.
func TestVerifyThroughDNS(t *testing.T) {
	t.Parallel()
	z := resolver.NewFake()
	z.AddTXT("example.org", "v=spf1 ip4:192.0.2.0/24 -all")
	z.AddTXT("helo.example.org", "v=spf1 a -all")
	z.AddA("helo.example.org", "192.0.2.10")
	srv, err := dnstest.Serve(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cfg := writeFile(t, "c.toml", "authserv_id = \"mx.test\"\n[dns]\nnameservers = [\""+srv.Addr()+"\"]\ntimeout = \"2s\"\n")
	msg := "From: a@example.org\r\nAuthentication-Results: mx.test; spf=pass\r\nSubject: hi\r\n\r\nbody\r\n"
	cases := []struct {
		name, ip, helo, from, spf, mailfrom string
	}{
		{"pass", "192.0.2.10", "helo.example.org", "a@example.org", "pass", "a@example.org"},
		{"fail", "198.51.100.1", "helo.example.org", "a@example.org", "fail", "a@example.org"},
		{"null sender", "192.0.2.10", "helo.example.org", "", "pass", "postmaster@helo.example.org"},
		{"ipv6 literal", "IPv6:2001:db8::1", "helo.example.org", "a@example.org", "fail", "a@example.org"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runCmd(t, msg, "verify", "-c", cfg, "--client-ip", tc.ip, "--helo", tc.helo, "--mail-from", tc.from)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if !strings.HasPrefix(out, "Received-SPF: "+tc.spf+" ") {
				t.Errorf("Received-SPF missing or wrong:\n%s", out)
			}
			_, value, ok := strings.Cut(out, "Authentication-Results:")
			if !ok {
				t.Fatalf("no Authentication-Results in:\n%s", out)
			}
			id, rs, err := authres.Parse(strings.TrimSpace(value))
			if err != nil || id != "mx.test" {
				t.Fatalf("parse %q: %q %v", value, id, err)
			}
			if rs[0].Value != tc.spf || rs[0].Props[0].Value != tc.mailfrom {
				t.Errorf("got %+v, want spf=%s smtp.mailfrom=%s", rs[0], tc.spf, tc.mailfrom)
			}
			if !strings.Contains(errs, "would remove Authentication-Results #1") {
				t.Errorf("forged header not reported: %s", errs)
			}
		})
	}
}

func TestVerifyRejectsBadInput(t *testing.T) {
	t.Parallel()
	code, _, errs := runCmd(t, "From: a@b\r\n\r\n", "verify", "--client-ip", "not-an-ip", "--helo", "x", "--mail-from", "a@b")
	if code != 2 || !strings.Contains(errs, "not an IP address") {
		t.Errorf("got %d %q", code, errs)
	}
	code, _, errs = runCmd(t, "this is not a message\r\n", "verify", "--helo", "x", "--mail-from", "a@b")
	if code != 1 || !strings.Contains(errs, "not a header field") {
		t.Errorf("got %d %q", code, errs)
	}
}

// feedMessage reads a message the way Postfix passes it to a milter.
func TestFeedMessageLikePostfix(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, msg, from string
		removed         int
	}{
		{"crlf", "From: a@example.org\r\nAuthentication-Results: mx.test; spf=pass\r\n\r\nbody\r\n", "a@example.org", 1},
		{"bare lf and folding", "From:\n a@example.org\nAuthentication-Results:\n\tmx.test; spf=pass\n\nbody\n", "\r\n a@example.org", 1},
		{"mbox separator skipped", "From alice@example.org Tue Dec  1 00:00:00 2026\nFrom: a@example.org\n\nbody\n", "a@example.org", 0},
		{"a non-header line starts the body", "From: a@example.org\nthis is body text\nAuthentication-Results: mx.test; spf=pass\n", "a@example.org", 0},
		{"a name with a space is not a header", "From: a@example.org\nBad Name: x\nAuthentication-Results: mx.test; spf=pass\n", "a@example.org", 0},
		{"no body at all", "From: a@example.org\r\nAuthentication-Results: mx.test; spf=pass", "a@example.org", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eng, err := newEngine(mustDefaults(t), resolver.NewFake())
			if err != nil {
				t.Fatal(err)
			}
			v, err := feedMessage(eng.Begin(t.Context(), policyEnvelope()), strings.NewReader(tc.msg))
			if err != nil {
				t.Fatal(err)
			}
			if v.HeaderFrom != tc.from || len(v.Remove) != tc.removed {
				t.Errorf("From %q, %d removed; want %q, %d", v.HeaderFrom, len(v.Remove), tc.from, tc.removed)
			}
		})
	}
}

func mustDefaults(t *testing.T) *config.Config {
	t.Helper()
	c := config.Default()
	c.AuthservID = "mx.test"
	return c
}

func policyEnvelope() policy.Envelope {
	return policy.Envelope{ClientIP: net.ParseIP("192.0.2.1"), Helo: "x.example", MailFrom: "a@example.org"}
}
