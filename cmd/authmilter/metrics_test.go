package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"
)

// get fetches an URL of the metrics listener: status and body, or -1 when
// nothing answers.
func get(url string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return -1, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The real daemon with [metrics] listen: /healthz is 200 while it serves
// and 503 while it drains at SIGTERM, /metrics counts a message sent
// through the milter protocol, and reloads are counted.
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	bin, err := buildBinary()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	addr, maddr := freePort(t), freePort(t)
	base := "http://" + maddr
	cfgPath := filepath.Join(t.TempDir(), "authmilter.toml")
	cfg := "listen = \"inet:" + addr + "\"\nauthserv_id = \"metrics.test\"\n" +
		"[dns]\nnameservers = [\"127.0.0.1:9\"]\ntimeout = \"1s\"\n[metrics]\nlisten = \"" + maddr + "\"\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startServe(t, bin, cfgPath)
	cmd, log, exited := d.cmd, d.log, d.exited
	waitFor(t, "/healthz to say ok", func() bool {
		code, body := get(base + "/healthz")
		return code == 200 && body == "ok\n"
	})
	if code, _ := get(base + "/nothing"); code != 404 {
		t.Errorf("/nothing: status %d, want 404", code)
	}

	s := milterSession(t, addr)
	if id := authservID(t, s); id != "metrics.test" {
		t.Fatalf("authserv-id %q", id)
	}
	code, body := get(base + "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, want := range []string{
		`authmilter_messages_total{direction="inbound",action="accept"} 1`,
		`authmilter_messages_total{direction="outbound",action="accept"} 0`,
		`authmilter_message_duration_seconds_count{direction="inbound"} 1`,
		`authmilter_results_total{method="dkim",result="none"} 1`,
		`authmilter_stage_duration_seconds_count{stage="connect"} 1`,
		`authmilter_stage_duration_seconds_count{stage="eom"} 1`,
		`authmilter_active_connections 1`,
		`authmilter_reloads_total{result="success"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^authmilter_results_total\{method="spf",result="[a-z]+"\} 1$`).MatchString(body) {
		t.Errorf("/metrics has no SPF result")
	}
	if !regexp.MustCompile(`(?m)^authmilter_dns_queries_total [1-9]`).MatchString(body) {
		t.Errorf("/metrics counts no DNS query")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}

	// A good reload and a bad one.
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(log.String(), "configuration reloaded") })
	if err := os.WriteFile(cfgPath, []byte("authserv_id = 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the failed reload to be counted", func() bool {
		_, body := get(base + "/metrics")
		return strings.Contains(body, `authmilter_reloads_total{result="failure"} 1`+"\n") &&
			strings.Contains(body, `authmilter_reloads_total{result="success"} 1`+"\n")
	})

	// A message in flight holds the shutdown; meanwhile /healthz is 503.
	if _, err := s.Mail("a@example.org", nil); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "/healthz to say 503 during shutdown", func() bool {
		code, _ := get(base + "/healthz")
		return code == 503
	})
	steps := []func() (*gomilter.Action, error){
		func() (*gomilter.Action, error) { return s.Rcpt("r@mx.test", nil) },
		func() (*gomilter.Action, error) { return s.HeaderField("From", "a@example.org") },
		s.HeaderEnd,
	}
	for _, step := range steps {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.End(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop on SIGTERM")
	}
	if code, _ := get(base + "/healthz"); code != -1 {
		t.Errorf("metrics listener still answers after exit: %d", code)
	}
}
