package metrics

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authmilter/authmilter/policy"
	"github.com/authmilter/authmilter/policy/dkim"
	"github.com/authmilter/authmilter/policy/dmarc"
	"github.com/authmilter/authmilter/policy/sign"
	"github.com/authmilter/authmilter/policy/spf"
	"github.com/authmilter/authmilter/resolver"
)

func scrape(t *testing.T, d *Daemon) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := d.Registry().WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// wantLines checks that each sample line is in the output, exactly.
func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains("\n"+out, "\n"+l+"\n") {
			t.Errorf("missing line %q", l)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

type fakeStats struct{ s resolver.StubStats }

func (f *fakeStats) Stats() resolver.StubStats { return f.s }

func TestDaemonMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		v     *policy.Verdict
		lines []string
	}{
		{"inbound pass", &policy.Verdict{
			Action: policy.Accept,
			SPF:    spf.Outcome{Result: spf.Pass},
			DKIM:   []dkim.Result{{Result: "pass"}, {Result: "fail"}},
			DMARC:  &policy.DMARCVerdict{Result: dmarc.Result{Result: "pass"}},
		}, []string{
			`authmilter_messages_total{direction="inbound",action="accept"} 1`,
			`authmilter_messages_total{direction="inbound",action="reject"} 0`,
			`authmilter_results_total{method="spf",result="pass"} 1`,
			`authmilter_results_total{method="dkim",result="pass"} 1`,
			`authmilter_results_total{method="dkim",result="fail"} 1`,
			`authmilter_results_total{method="dmarc",result="pass"} 1`,
			`authmilter_message_duration_seconds_bucket{direction="inbound",le="0.025"} 1`,
			`authmilter_message_duration_seconds_bucket{direction="inbound",le="0.01"} 0`,
			`authmilter_message_duration_seconds_count{direction="inbound"} 1`,
			`authmilter_message_duration_seconds_sum{direction="inbound"} 0.02`,
		}},
		{"unsigned rejected", &policy.Verdict{
			Action: policy.Reject,
			SPF:    spf.Outcome{Result: spf.Fail},
			DMARC:  &policy.DMARCVerdict{Result: dmarc.Result{Result: "fail"}},
		}, []string{
			`authmilter_messages_total{direction="inbound",action="reject"} 1`,
			`authmilter_results_total{method="dkim",result="none"} 1`,
			`authmilter_results_total{method="dmarc",result="fail"} 1`,
		}},
		{"refused before judged", &policy.Verdict{Action: policy.Reject}, []string{
			`authmilter_messages_total{direction="inbound",action="reject"} 1`,
			"# TYPE authmilter_results_total counter",
		}},
		{"signed twice", &policy.Verdict{
			Action:  policy.Accept,
			DMARC:   &policy.DMARCVerdict{Result: dmarc.Result{Result: "none"}},
			Signing: &policy.Signing{Rule: "*@example.com", Signatures: []sign.Signature{{KeyName: "rsa"}, {KeyName: "ed"}}},
		}, []string{
			`authmilter_messages_total{direction="outbound",action="accept"} 1`,
			`authmilter_signatures_total{key="ed"} 1`,
			`authmilter_signatures_total{key="rsa"} 1`,
			`authmilter_signing_failures_total 0`,
			`authmilter_message_duration_seconds_count{direction="outbound"} 1`,
		}},
		{"signing failed", &policy.Verdict{
			Action:  policy.Tempfail,
			Signing: &policy.Signing{Rule: "*@example.com", Problem: "signing rule *@example.com gave no usable key"},
		}, []string{
			`authmilter_messages_total{direction="outbound",action="tempfail"} 1`,
			`authmilter_signing_failures_total 1`,
		}},
		{"no signing rule is not a failure", &policy.Verdict{
			Action:  policy.Accept,
			Signing: &policy.Signing{Problem: "no signing rule for a@example.org"},
		}, []string{
			`authmilter_messages_total{direction="outbound",action="accept"} 1`,
			`authmilter_signing_failures_total 0`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := NewDaemon()
			d.Message(tt.v, 20*time.Millisecond)
			out := scrape(t, d)
			wantLines(t, out, tt.lines...)
			if tt.v.DMARC == nil && tt.v.SPF.Result == "" && strings.Contains(out, "authmilter_results_total{") {
				t.Errorf("results counted for a message without any:\n%s", out)
			}
		})
	}
}

func TestDaemonStagesReloadsConnections(t *testing.T) {
	t.Parallel()
	d := NewDaemon()
	d.Stage("eom", 3*time.Millisecond)
	d.Stage("eom", 2*time.Second)
	d.Stage("connect", 0)
	d.Reload(true)
	d.Reload(false)
	d.Reload(true)
	n := 0
	d.SetConnections(func() int { n++; return 5 })
	out := scrape(t, d)
	wantLines(t, out,
		`authmilter_stage_duration_seconds_bucket{stage="eom",le="0.0025"} 0`,
		`authmilter_stage_duration_seconds_bucket{stage="eom",le="0.005"} 1`,
		`authmilter_stage_duration_seconds_bucket{stage="eom",le="2.5"} 2`,
		`authmilter_stage_duration_seconds_count{stage="eom"} 2`,
		`authmilter_stage_duration_seconds_count{stage="connect"} 1`,
		`authmilter_reloads_total{result="success"} 2`,
		`authmilter_reloads_total{result="failure"} 1`,
		`authmilter_active_connections 5`,
	)
	if n != 1 {
		t.Errorf("connections read %d times per scrape", n)
	}
}

// TestDaemonResolverSwap checks that the DNS counters stay monotonic when
// a reload replaces the resolver.
func TestDaemonResolverSwap(t *testing.T) {
	t.Parallel()
	d := NewDaemon()
	wantLines(t, scrape(t, d), "authmilter_dns_queries_total 0", "authmilter_active_connections 0")
	first := &fakeStats{resolver.StubStats{Queries: 10, CacheHits: 4, CacheMisses: 6, Timeouts: 2, ServFails: 1}}
	d.SetResolver(first)
	wantLines(t, scrape(t, d),
		"authmilter_dns_queries_total 10", "authmilter_dns_cache_hits_total 4", "authmilter_dns_cache_misses_total 6",
		"authmilter_dns_timeouts_total 2", "authmilter_dns_servfails_total 1")
	first.s.Queries = 12 // counted before the swap
	second := &fakeStats{resolver.StubStats{Queries: 1}}
	d.SetResolver(second)
	first.s.Queries = 99 // after the swap: no longer read
	wantLines(t, scrape(t, d), "authmilter_dns_queries_total 13", "authmilter_dns_timeouts_total 2")
}

func TestHandler(t *testing.T) {
	t.Parallel()
	errStopping := errors.New("milter listener not serving")
	tests := []struct {
		name, method, path string
		ready              error
		code               int
		body, ctype        string
	}{
		{"healthz up", "GET", "/healthz", nil, 200, "ok\n", "text/plain; charset=utf-8"},
		{"healthz down", "GET", "/healthz", errStopping, 503, "milter listener not serving\n", "text/plain; charset=utf-8"},
		{"metrics", "GET", "/metrics", nil, 200, "# HELP authmilter_messages_total", ContentType},
		{"metrics while down", "GET", "/metrics", errStopping, 200, "# HELP authmilter_messages_total", ContentType},
		{"HEAD metrics", "HEAD", "/metrics", nil, 200, "", ContentType},
		{"root", "GET", "/", nil, 404, "404 page not found\n", ""},
		{"under metrics", "GET", "/metrics/x", nil, 404, "404 page not found\n", ""},
		{"other", "GET", "/debug/pprof/", nil, 404, "404 page not found\n", ""},
		{"POST metrics", "POST", "/metrics", nil, 405, "Method Not Allowed\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := NewDaemon()
			h := Handler(d.Registry(), func() error { return tt.ready })
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.code {
				t.Errorf("status %d, want %d", res.StatusCode, tt.code)
			}
			if !strings.HasPrefix(string(body), tt.body) {
				t.Errorf("body %q, want prefix %q", body, tt.body)
			}
			if ct := res.Header.Get("Content-Type"); tt.ctype != "" && ct != tt.ctype {
				t.Errorf("Content-Type %q, want %q", ct, tt.ctype)
			}
		})
	}
}

// TestHandlerOverHTTP serves the handler on loopback, as the daemon does.
func TestHandlerOverHTTP(t *testing.T) {
	t.Parallel()
	d := NewDaemon()
	d.Message(&policy.Verdict{Action: policy.Accept}, time.Millisecond)
	srv := httptest.NewServer(Handler(d.Registry(), func() error { return nil }))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	wantLines(t, string(body), `authmilter_messages_total{direction="inbound",action="accept"} 1`)
}

func BenchmarkDaemonMessage(b *testing.B) {
	d := NewDaemon()
	v := &policy.Verdict{
		Action: policy.Accept,
		SPF:    spf.Outcome{Result: spf.Pass},
		DKIM:   []dkim.Result{{Result: "pass"}},
		DMARC:  &policy.DMARCVerdict{Result: dmarc.Result{Result: "pass"}},
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d.Message(v, 3*time.Millisecond)
			d.Stage("eom", time.Millisecond)
		}
	})
}
