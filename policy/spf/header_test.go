package spf_test

import (
	"net"
	"strings"
	"testing"

	"github.com/authmilter/authmilter/policy/spf"
)

func TestReceivedSPFGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		o       spf.Outcome
		ip      net.IP
		helo    string
		recv    string
		want    string
		wantKVs map[string]string
	}{
		{
			name: "pass",
			o:    spf.Outcome{Result: spf.Pass, Identity: "mailfrom", Sender: "myname@example.com", Mechanism: "ip4:192.0.2.0/24"},
			ip:   net.ParseIP("192.0.2.1"), helo: "foo.example.com", recv: "mybox.example.org",
			want: "pass (mybox.example.org: domain of myname@example.com designates\r\n" +
				"\t192.0.2.1 as permitted sender) client-ip=192.0.2.1;\r\n" +
				"\tenvelope-from=\"myname@example.com\"; helo=foo.example.com;\r\n" +
				"\treceiver=mybox.example.org; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\";",
		},
		{
			name: "neutral default ipv6",
			o:    spf.Outcome{Result: spf.Neutral, Identity: "mailfrom", Sender: "u@example.com"},
			ip:   net.ParseIP("2001:db8::1"), helo: "h.example", recv: "mx.example.org",
			wantKVs: map[string]string{"client-ip": "2001:db8::1", "mechanism": "default", "envelope-from": "u@example.com"},
		},
		{
			name: "helo identity has no envelope-from",
			o:    spf.Outcome{Result: spf.Fail, Identity: "helo", Sender: "postmaster@h.example", Mechanism: "-all"},
			ip:   net.ParseIP("::ffff:192.0.2.1"), helo: "h.example", recv: "mx.example.org",
			wantKVs: map[string]string{"client-ip": "192.0.2.1", "identity": "helo", "mechanism": "-all", "helo": "h.example"},
		},
		{
			name: "permerror problem",
			o:    spf.Outcome{Result: spf.PermError, Identity: "mailfrom", Sender: "u@example.com", Problem: `spf: record syntax error: unknown mechanism in "moo"`},
			ip:   net.ParseIP("192.0.2.1"), helo: "h.example", recv: "mx.example.org",
			wantKVs: map[string]string{"problem": `spf: record syntax error: unknown mechanism in "moo"`},
		},
		{
			name: "injection attempts",
			o: spf.Outcome{Result: spf.SoftFail, Identity: "mailfrom",
				Sender: "\"evil\\\"\r\nX-Injected: yes\"(@example.com", Mechanism: "~all"},
			ip: net.ParseIP("192.0.2.1"), helo: "bad\r\n\tX-Other: 1; receiver=forged", recv: "mx.example.org",
			wantKVs: map[string]string{
				"envelope-from": "\"evil\\\"??X-Injected: yes\"(@example.com",
				"helo":          "bad???X-Other: 1; receiver=forged",
				"receiver":      "mx.example.org",
			},
		},
		{
			name: "non-ascii",
			o:    spf.Outcome{Result: spf.Pass, Identity: "mailfrom", Sender: "jörg@exämple.com", Mechanism: "a"},
			ip:   net.ParseIP("192.0.2.1"), helo: "héllo.example", recv: "mx.example.org",
			wantKVs: map[string]string{"envelope-from": "j?rg@ex?mple.com", "helo": "h?llo.example"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := spf.ReceivedSPF(tt.o, tt.ip, tt.helo, tt.recv)
			if tt.want != "" && got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			checkHeaderShape(t, got)
			result, kvs := parseReceivedSPF(t, got)
			if result != string(tt.o.Result) {
				t.Errorf("result token %q, want %q", result, tt.o.Result)
			}
			for k, v := range tt.wantKVs {
				if kvs[k] != v {
					t.Errorf("%s = %q, want %q (header %q)", k, kvs[k], v, got)
				}
			}
			if kvs["receiver"] != tt.recv {
				t.Errorf("receiver = %q, want %q", kvs["receiver"], tt.recv)
			}
		})
	}
}

// checkHeaderShape asserts the properties every header value must have:
// only printable ASCII and CRLF TAB folds, lines within 78 octets.
func checkHeaderShape(t *testing.T, v string) {
	t.Helper()
	lines := strings.Split(v, "\r\n")
	for i, l := range lines {
		if i > 0 && !strings.HasPrefix(l, "\t") {
			t.Errorf("line %d not folded with TAB: %q", i, l)
		}
		width := len(l)
		if i == 0 {
			width += len("Received-SPF: ")
		}
		if width > 78 {
			t.Errorf("line %d is %d octets: %q", i, width, l)
		}
		for j := 0; j < len(l); j++ {
			if c := l[j]; (c < 0x20 && c != '\t') || c >= 0x7f {
				t.Errorf("line %d has byte 0x%02x", i, c)
			}
		}
	}
}

// parseReceivedSPF is an independent reader of the RFC 7208 §9.1 syntax:
// result, optional comment, key=value pairs (dot-atom or quoted-string).
func parseReceivedSPF(t *testing.T, v string) (string, map[string]string) {
	t.Helper()
	s := strings.ReplaceAll(v, "\r\n", "")
	s = strings.ReplaceAll(s, "\t", " ")
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s, nil
	}
	result, s := s[:i], strings.TrimLeft(s[i:], " ")
	if strings.HasPrefix(s, "(") {
		depth := 0
		j := 0
		for ; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				break
			}
		}
		if depth != 0 {
			t.Fatalf("unterminated comment in %q", v)
		}
		s = s[j+1:]
	}
	kvs := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			t.Fatalf("no '=' in %q", s)
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			j := 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				t.Fatalf("unterminated quoted-string in %q", v)
			}
			val, s = b.String(), s[j+1:]
		} else {
			j := strings.IndexByte(s, ';')
			if j < 0 {
				j = len(s)
			}
			val, s = s[:j], s[j:]
		}
		if !strings.HasPrefix(s, ";") {
			t.Fatalf("key %s not followed by ';' in %q", key, v)
		}
		s = s[1:]
		if _, dup := kvs[key]; dup {
			t.Errorf("duplicate key %s in %q", key, v)
		}
		kvs[key] = val
	}
	return result, kvs
}

func FuzzReceivedSPF(f *testing.F) {
	f.Add(uint8(0), "user@example.com", "ip4:192.0.2.0/24", "", "mail.example.com")
	f.Add(uint8(6), "\"a\\\"b\"@example.com", "", "spf: bad (\"x\")", "[192.0.2.1]")
	f.Add(uint8(1), "a\r\nb@example.com", "-all", "", "h\r\n\tX: y")
	f.Add(uint8(4), "\x00\xff@\u00e9.example", "", "spf: none", "")
	results := []spf.Result{spf.Pass, spf.Fail, spf.SoftFail, spf.Neutral, spf.None, spf.TempError, spf.PermError}
	f.Fuzz(func(t *testing.T, r uint8, sender, mech, problem, helo string) {
		o := spf.Outcome{Result: results[int(r)%len(results)], Identity: "mailfrom", Sender: sender, Mechanism: mech, Problem: problem}
		h := spf.ReceivedSPF(o, net.ParseIP("2001:db8::1"), helo, "mx.example.org")
		for i := 0; i < len(h); i++ {
			if c := h[i]; (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c >= 0x7f {
				t.Fatalf("byte 0x%02x in %q", c, h)
			}
		}
		if strings.Count(h, "\r") != strings.Count(h, "\r\n\t") || strings.Count(h, "\n") != strings.Count(h, "\r\n\t") {
			t.Fatalf("bare CR or LF in %q", h)
		}
		_, kvs := parseReceivedSPF(t, h)
		if kvs["receiver"] != "mx.example.org" {
			t.Fatalf("receiver key lost or forged: %q in %q", kvs["receiver"], h)
		}
	})
}
