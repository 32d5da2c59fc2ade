package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authmilter/authmilter/resolver"
	"github.com/authmilter/authmilter/resolver/dnstest"
)

// The authserv-id both daemons write (RFC 8601 §2.5).
const authservID = "mx.test"

// Listener names of the shared Postfix instance.
const (
	// lnMTA uses the contrib main.cf milter settings as shipped: the
	// daemon with on_dns_error = "accept", on an inet socket.
	lnMTA = "mta"
	// lnStrict points at the daemon with on_dns_error = "tempfail", on a
	// unix socket (socket_mode 0666, as Postfix connects as user postfix).
	lnStrict = "strict"
	// lnSubmission is the contrib master.cf submission service's milter
	// options (ORIGINATING) in front of the same daemon as lnMTA.
	lnSubmission = "submission"
	// lnNoMilter has no milter at all: the harness's own check.
	lnNoMilter = "nomilter"
	// lnDown names a milter address where nothing listens, to see
	// milter_default_action from the contrib snippet at work.
	lnDown = "down"
	// lnReport points at the report-only daemon: [dmarc] enforce =
	// false, DMARC results written and never acted upon.
	lnReport = "report"
	// lnLenient points at the daemon with the other choice of each
	// [dmarc] setting: quarantine = "header", mailing_lists = "exempt",
	// multiple_authors = "strictest", malformed_from = "accept",
	// relay_without_received = "spf-none".
	lnLenient = "lenient"
	// lnSignSubmission is the contrib submission service's milter
	// options (ORIGINATING) in front of the signing daemon, which has a
	// [signing] section; lnSignMTA points at the same daemon without
	// them, so only internal and authenticated clients are outbound.
	lnSignSubmission = "signsub"
	lnSignMTA        = "signmta"
	// lnSignSimple is the submission options in front of the signing
	// daemon with canonicalization = "simple/simple", which needs the
	// header fields exactly as the client sent them.
	lnSignSimple = "signsimple"
)

// suite is everything the package's tests share. The first test that needs
// it starts it (once), TestMain stops it after the last test; in between
// the tests only read it.
type suite struct {
	once sync.Once
	// reaper removes work if the test process dies before teardown.
	reaper *Reaper
	// skip is why the tests cannot run here (tools missing outside CI);
	// setupErr is why they cannot run at all (a setup failure: always a
	// test failure). At most one is set.
	skip     string
	setupErr error
	// daemonErr is why authmilter could not be built or started; tests
	// that need no milter still run.
	daemonErr error

	work    string // temporary directory: binary, configs, unix socket
	bin     string
	sink    *Sink
	postfix *Postfix
	zone    *resolver.Fake
	keys    *zoneKeys
	dns     *dnstest.Server
	// accept and strict are the `authmilter serve` daemons with
	// on_dns_error "accept" and "tempfail" (in [verify] and [dmarc]);
	// report and lenient are the DMARC variants of accept described at
	// lnReport and lenient; signer is accept with a [signing] section
	// (lnSignSubmission, lnSignMTA); signerSimple signs with simple/simple
	// (lnSignSimple).
	accept, strict, report, lenient, signer, signerSimple *Daemon
	// daemons lists the running daemons by name, for teardown and
	// failure reports.
	daemons []namedDaemon
	// acceptCfg is the accept daemon's configuration file, which the
	// verify tests reuse with other nameservers.
	acceptCfg DaemonConfig

	// teardownErr collects what went wrong stopping the daemons and
	// Postfix: a daemon that crashed, hung on SIGTERM or raced fails the
	// package run even when every test passed.
	teardownErr error
}

var env suite

// TestMain tears down what the tests started. The set-up itself is lazy
// (suite.need): a run of only the parser tests, and each fuzzing worker
// process, starts no Postfix.
func TestMain(m *testing.M) {
	code := m.Run()
	env.teardown()
	if err := env.teardownErr; err != nil {
		fmt.Fprintf(os.Stderr, "e2e: teardown: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func (s *suite) setup() {
	if err := CheckTools(); err != nil {
		if InCI() {
			s.setupErr = fmt.Errorf("%w (CI is set, so this is a failure, not a skip)", err)
		} else {
			s.skip = err.Error() + "; run scripts/test as root, or set CI=true to make this a failure"
		}
		return
	}
	if err := s.start(); err != nil {
		s.setupErr = err
	}
}

func (s *suite) start() error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	s.work, err = os.MkdirTemp("", "authmilter-e2e-")
	if err != nil {
		return err
	}
	if s.reaper, err = StartReaper(); err != nil {
		return err
	}
	if err := s.reaper.Remove(s.work); err != nil {
		return err
	}
	// Postfix (user postfix) must reach the unix socket inside.
	if err := os.Chmod(s.work, 0o755); err != nil {
		return err
	}
	contrib, err := LoadContrib(filepath.Join(root, "contrib", "postfix"))
	if err != nil {
		return err
	}
	if s.sink, err = StartSink(); err != nil {
		return err
	}
	if s.zone, s.keys, err = buildZone(); err != nil {
		return err
	}
	if s.dns, err = dnstest.Serve(s.zone); err != nil {
		return err
	}

	var acceptAddr, downAddr, reportAddr, lenientAddr, signerAddr, simpleAddr string
	for _, a := range []*string{&acceptAddr, &downAddr, &reportAddr, &lenientAddr, &signerAddr, &simpleAddr} {
		if *a, err = FreePort(); err != nil {
			return err
		}
	}
	strictSock := filepath.Join(s.work, "strict.sock")
	s.acceptCfg = DaemonConfig{
		Listen:      "inet:" + acceptAddr,
		AuthservID:  authservID,
		Nameservers: []string{s.dns.Addr()},
		DNSTimeout:  "1s",
		OnDNSError:  "accept",
		// The default, written out: the test clients (TEST-NET
		// addresses through XCLIENT) must stay outside it, or their mail
		// would be a submission and never judged.
		InternalNetworks: []string{"127.0.0.0/8", "::1/128"},
		DMARC: DMARCSettings{
			TrustedForwarders: []string{forwarderIP + "/32"},
			TrustedRelays:     []string{relayIP + "/32"},
			RejectText:        dmarcRejectText,
		},
	}
	strictCfg := s.acceptCfg
	strictCfg.Listen = "unix:" + strictSock
	strictCfg.SocketMode = "0666"
	strictCfg.OnDNSError = "tempfail"
	strictCfg.DMARC.OnDNSError = "tempfail"
	reportCfg := s.acceptCfg
	reportCfg.Listen = "inet:" + reportAddr
	reportOnly := false
	reportCfg.DMARC.Enforce = &reportOnly
	lenientCfg := s.acceptCfg
	lenientCfg.Listen = "inet:" + lenientAddr
	lenientCfg.DMARC.Quarantine = "header"
	lenientCfg.DMARC.QuarantineHeader = quarantineHeader
	lenientCfg.DMARC.MailingLists = "exempt"
	lenientCfg.DMARC.MultipleAuthors = "strictest"
	lenientCfg.DMARC.MalformedFrom = "accept"
	lenientCfg.DMARC.RelayWithoutReceived = "spf-none"
	signerCfg := s.acceptCfg
	signerCfg.Listen = "inet:" + signerAddr
	if signerCfg.Signing, err = writeSigningKeys(s.work, s.keys); err != nil {
		return err
	}
	simpleCfg := signerCfg
	simpleCfg.Listen = "inet:" + simpleAddr
	simpleCfg.Signing.Canonicalization = "simple/simple"

	// The daemons first, so that Postfix never sees a milter that is not
	// there yet; a daemon that does not build fails only the tests that
	// need it.
	s.daemonErr = s.startDaemons(root, []daemonSpec{
		{"accept", s.acceptCfg, &s.accept},
		{"strict", strictCfg, &s.strict},
		{"report", reportCfg, &s.report},
		{"lenient", lenientCfg, &s.lenient},
		{"signer", signerCfg, &s.signer},
		{"signer-simple", simpleCfg, &s.signerSimple},
	})

	s.postfix, err = StartPostfix(PostfixConfig{
		Contrib:    contrib,
		MilterAddr: s.acceptCfg.Listen,
		RelayTo:    s.sink.Addr(),
		Listeners: []Listener{
			{Name: lnMTA},
			{Name: lnStrict, Options: []Param{{Name: "smtpd_milters", Value: strictCfg.Listen}}},
			{Name: lnSubmission, Submission: true},
			{Name: lnNoMilter, Options: []Param{{Name: "smtpd_milters", Value: ""}}},
			{Name: lnDown, Options: []Param{{Name: "smtpd_milters", Value: "inet:" + downAddr}}},
			{Name: lnReport, Options: []Param{{Name: "smtpd_milters", Value: reportCfg.Listen}}},
			{Name: lnLenient, Options: []Param{{Name: "smtpd_milters", Value: lenientCfg.Listen}}},
			{Name: lnSignSubmission, Submission: true, Options: []Param{{Name: "smtpd_milters", Value: signerCfg.Listen}}},
			{Name: lnSignMTA, Options: []Param{{Name: "smtpd_milters", Value: signerCfg.Listen}}},
			{Name: lnSignSimple, Submission: true, Options: []Param{{Name: "smtpd_milters", Value: simpleCfg.Listen}}},
		},
	})
	return err
}

// daemonSpec is one daemon to start: its name (for its configuration
// file and failure reports), its configuration, and where to keep it.
type daemonSpec struct {
	name string
	cfg  DaemonConfig
	into **Daemon
}

// namedDaemon is a running daemon with its name.
type namedDaemon struct {
	name string
	d    *Daemon
}

// startDaemons builds authmilter and starts the daemons, all at once: each
// waits only for its own socket.
func (s *suite) startDaemons(root string, specs []daemonSpec) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	if s.bin, err = BuildAuthmilter(ctx, root, s.work); err != nil {
		return err
	}
	paths := make([]string, len(specs))
	for i, sp := range specs {
		if paths[i], err = WriteConfig(s.work, sp.name+".toml", sp.cfg); err != nil {
			return err
		}
	}
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, sp := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := StartDaemon(s.bin, paths[i], sp.cfg)
			if err != nil {
				errs[i] = fmt.Errorf("daemon %s: %w", sp.name, err)
				return
			}
			*sp.into = d
		}()
	}
	wg.Wait()
	for _, sp := range specs {
		if *sp.into != nil {
			s.daemons = append(s.daemons, namedDaemon{sp.name, *sp.into})
		}
	}
	return errors.Join(errs...)
}

func (s *suite) teardown() {
	var errs []error
	if s.postfix != nil {
		errs = append(errs, s.postfix.Stop())
	}
	for _, nd := range s.daemons {
		if err := nd.d.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("daemon %s: %w\nstderr:\n%s", nd.name, err, tail(nd.d.Stderr(), 8000)))
		}
	}
	if s.dns != nil {
		errs = append(errs, s.dns.Close())
	}
	if s.sink != nil {
		errs = append(errs, s.sink.Close())
	}
	if s.work != "" {
		errs = append(errs, os.RemoveAll(s.work))
	}
	if s.reaper != nil {
		s.reaper.Done()
	}
	s.teardownErr = errors.Join(errs...)
}

// need skips or fails t unless the harness is up; withDaemon also requires
// the authmilter daemons.
func (s *suite) need(t testing.TB, withDaemon bool) {
	t.Helper()
	s.once.Do(s.setup)
	switch {
	case s.skip != "":
		t.Skip("e2e: " + s.skip)
	case s.setupErr != nil:
		t.Fatalf("e2e setup failed: %v", s.setupErr)
	case withDaemon && s.daemonErr != nil:
		t.Fatalf("e2e: authmilter is not running: %v", s.daemonErr)
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// dumpOnFailure registers a cleanup that logs, if t failed, the Postfix log
// and daemon output written during the test and what the sink holds for
// rcpt.
func (s *suite) dumpOnFailure(t *testing.T, rcpt string) {
	t.Helper()
	_, logOff := s.postfix.MaillogSince(0)
	offs := make([]int, len(s.daemons))
	for i, nd := range s.daemons {
		offs[i] = len(nd.d.Stderr())
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		maillog, _ := s.postfix.MaillogSince(logOff)
		t.Logf("Postfix maillog during the test (other tests' lines included):\n%s", tail(maillog, 20000))
		for i, nd := range s.daemons {
			if out := nd.d.Stderr()[offs[i]:]; out != "" {
				t.Logf("authmilter %q stderr during the test (other tests' lines included):\n%s", nd.name, tail(out, 20000))
			}
		}
		if rcpt != "" {
			t.Log(s.sink.Dump(rcpt))
		}
	})
}

// hasPrefixFold is strings.HasPrefix without regard to ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
