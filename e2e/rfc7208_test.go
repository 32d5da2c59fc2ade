package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authmilter/authmilter/policy/spf"
	"github.com/authmilter/authmilter/policy/spf/spftest"
	"github.com/authmilter/authmilter/resolver/dnstest"
)

// rfc7208Cases is the size of the RFC 7208 suite (openspf
// rfc7208-tests.yml); a loader that finds fewer would let the test pass on
// less than the whole suite.
const rfc7208Cases = 203

// TestRFC7208ThroughCLI runs the whole RFC 7208 conformance suite through
// the built binary: each scenario's zone served over real DNS (dnstest),
// each case as one `authmilter verify` run, the result read back from the
// Authentication-Results field it prints. Unlike the policy/spf unit test,
// this covers the real stub resolver, the configuration and the header
// writer. Explanations (exp=) are not checked: Authentication-Results does
// not carry them.
func TestRFC7208ThroughCLI(t *testing.T) {
	env.need(t, true)
	t.Parallel()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	scenarios, err := spftest.Load(filepath.Join(root, "policy", "spf", "testdata", "rfc7208-tests.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	type job struct {
		scenario string
		cfg      string
		c        spftest.Case
	}
	var jobs []job
	for i, sc := range scenarios {
		srv, err := dnstest.Serve(sc.Zone)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		cfg := env.acceptCfg
		cfg.Listen = ""
		cfg.Nameservers = []string{srv.Addr()}
		// The suite's TIMEOUT records expect temperror; a short timeout
		// keeps those cases quick, but not so short that a loaded CI
		// machine (the race detector, parallel packages) misses real
		// answers: 300 ms did, on a loopback server.
		cfg.DNSTimeout = "2s"
		path, err := WriteConfig(dir, fmt.Sprintf("scenario-%02d.toml", i), cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range sc.Tests {
			jobs = append(jobs, job{sc.Description, path, c})
		}
	}
	if len(jobs) != rfc7208Cases {
		t.Fatalf("the suite has %d cases, want %d", len(jobs), rfc7208Cases)
	}

	msg := []byte("From: suite@example.com\r\nSubject: rfc7208\r\n\r\nbody\r\n")
	var (
		mu       sync.Mutex
		accepted int
		failures []string
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work := make(chan job)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				got, detail := runSuiteCase(ctx, j.cfg, j.c, msg)
				mu.Lock()
				if j.c.Accepts(spf.Result(got)) {
					accepted++
				} else {
					failures = append(failures, fmt.Sprintf("%s / %s: got spf=%s, want one of %v%s",
						j.scenario, j.c.Name, got, j.c.Results, detail))
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	t.Logf("rfc7208 via CLI: %d/%d", accepted, len(jobs))
	for _, f := range failures {
		t.Error(f)
	}
}

// runSuiteCase runs one case and returns the MAIL FROM SPF result (for the
// null sender, the postmaster@HELO check, RFC 7208 §2.4), or "" when the
// output has none, and what to show if the case fails.
func runSuiteCase(ctx context.Context, cfg string, c spftest.Case, msg []byte) (result, detail string) {
	res, err := RunVerify(ctx, env.bin, cfg, c.Host, c.Helo, c.MailFrom, msg)
	if err != nil {
		return "", "; " + err.Error()
	}
	show := fmt.Sprintf("\nexit %d, stdout:\n%s\nstderr:\n%s", res.ExitCode, res.Stdout, tail(res.Stderr, 2000))
	if res.ExitCode != 0 {
		return "", show
	}
	fields := OutputFields(res.Stdout)
	ars := fields["authentication-results"]
	if len(ars) != 1 {
		return "", "; want one Authentication-Results" + show
	}
	ar, err := ParseAuthResults(ars[0])
	if err != nil {
		return "", "; " + err.Error() + show
	}
	var spfResult string
	for _, r := range ar.ByMethod("spf") {
		if _, ok := r.Props["smtp.mailfrom"]; ok {
			spfResult = r.Result
		}
	}
	if spfResult == "" {
		return "", "; no spf result with smtp.mailfrom" + show
	}
	rs := fields["received-spf"]
	if len(rs) != 1 || !strings.EqualFold(strings.Fields(rs[0] + " x")[0], spfResult) {
		return "", fmt.Sprintf("; Received-SPF %q disagrees with spf=%s%s", rs, spfResult, show)
	}
	return spfResult, show
}
