package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BuildAuthmilter builds ./cmd/authmilter of the module at root into dir
// and returns the binary's path. When the tests run with -race, the daemon
// is built with -race too, so the end-to-end traffic also hunts data races
// in it (see Daemon.Stop).
func BuildAuthmilter(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "authmilter")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/authmilter")
	cmd := exec.CommandContext(ctx, goCommand(), args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w: go %s: %v\n%s", ErrDaemon, strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// goCommand finds the go tool: go test puts GOROOT/bin first in PATH, and
// /usr/local/go is where the machines have it.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// DaemonConfig is the part of authmilter's TOML configuration the tests set.
type DaemonConfig struct {
	// Listen is "inet:127.0.0.1:PORT" or "unix:/path".
	Listen string
	// SocketMode is the unix socket's mode ("0666"): Postfix connects as
	// user postfix, not as the daemon's user.
	SocketMode  string
	AuthservID  string
	Nameservers []string
	DNSTimeout  string // "1s"
	OnDNSError  string // [verify] on_dns_error: "accept" or "tempfail"
	// InternalNetworks is written as internal_networks when not nil; nil
	// keeps the daemon's default (127.0.0.0/8 and ::1/128).
	InternalNetworks []string
	// DMARC is the [dmarc] section; its empty fields are left out, so the
	// daemon's defaults apply to them.
	DMARC DMARCSettings
	// Signing is the [signing] section; without keys, rules or tables it
	// is not written, and the daemon only verifies.
	Signing SigningSettings
}

// SigningSettings is the [signing] section of authmilter's configuration
// (DKIM signing of outbound mail) as the tests set it. Empty strings and
// nil slices are not written, so the daemon's defaults apply to them.
type SigningSettings struct {
	Keys  []SigningKey
	Rules []SigningRule
	// SigningTable ("refile:/path" or "/path") and KeyTable ("/path") are
	// OpenDKIM tables.
	SigningTable, KeyTable string
	// DaemonNames is written when not nil (the default is ["ORIGINATING"]).
	DaemonNames      []string
	Canonicalization string // "relaxed/relaxed", "simple/simple", ...
	Profile          string // "default" or "minimal"
	Oversign         []string
	Expire           string // "0s", "24h", ...
	OnKeyMissing     string // "tempfail" or "accept"
	OnError          string // "tempfail" or "accept"
}

// SigningKey is one [[signing.key]] table.
type SigningKey struct {
	Name, Domain, Selector, PrivateKey string
}

// SigningRule is one [[signing.rule]] table.
type SigningRule struct {
	From string
	Keys []string
}

// toml renders the section, or "" when it configures no keys.
func (s SigningSettings) toml() string {
	if len(s.Keys) == 0 && len(s.Rules) == 0 && s.SigningTable == "" && s.KeyTable == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n[signing]\n")
	for _, kv := range []struct{ key, value string }{
		{"signing_table", s.SigningTable},
		{"key_table", s.KeyTable},
		{"canonicalization", s.Canonicalization},
		{"profile", s.Profile},
		{"expire", s.Expire},
		{"on_key_missing", s.OnKeyMissing},
		{"on_error", s.OnError},
	} {
		if kv.value != "" {
			fmt.Fprintf(&b, "%s = %s\n", kv.key, tomlString(kv.value))
		}
	}
	if s.DaemonNames != nil {
		fmt.Fprintf(&b, "daemon_names = %s\n", tomlList(s.DaemonNames))
	}
	if s.Oversign != nil {
		fmt.Fprintf(&b, "oversign = %s\n", tomlList(s.Oversign))
	}
	// The arrays of tables come last: every key after a [[...]] header
	// belongs to that table.
	for _, k := range s.Keys {
		fmt.Fprintf(&b, "\n[[signing.key]]\nname = %s\ndomain = %s\nselector = %s\nprivate_key = %s\n",
			tomlString(k.Name), tomlString(k.Domain), tomlString(k.Selector), tomlString(k.PrivateKey))
	}
	for _, r := range s.Rules {
		fmt.Fprintf(&b, "\n[[signing.rule]]\nfrom = %s\nkeys = %s\n", tomlString(r.From), tomlList(r.Keys))
	}
	return b.String()
}

// DMARCSettings is the [dmarc] section of authmilter's configuration as
// the tests set it. Empty strings, nil slices and a nil Enforce are not
// written.
type DMARCSettings struct {
	Enforce              *bool
	Quarantine           string // "hold" or "header"
	QuarantineHeader     string
	TrustedForwarders    []string
	TrustedRelays        []string
	Mode                 string // "rfc9989" or "rfc7489"
	OnDNSError           string // "accept" or "tempfail"
	MailingLists         string // "enforce" or "exempt"
	MultipleAuthors      string // "reject" or "strictest"
	MalformedFrom        string // "reject" or "accept"
	RelayWithoutReceived string // "tempfail" or "spf-none"
	RejectText           string
}

// toml renders the section, or "" when every field is left at its default.
func (d DMARCSettings) toml() string {
	var b strings.Builder
	if d.Enforce != nil {
		fmt.Fprintf(&b, "enforce = %t\n", *d.Enforce)
	}
	for _, kv := range []struct{ key, value string }{
		{"quarantine", d.Quarantine},
		{"quarantine_header", d.QuarantineHeader},
		{"mode", d.Mode},
		{"on_dns_error", d.OnDNSError},
		{"mailing_lists", d.MailingLists},
		{"multiple_authors", d.MultipleAuthors},
		{"malformed_from", d.MalformedFrom},
		{"relay_without_received", d.RelayWithoutReceived},
		{"reject_text", d.RejectText},
	} {
		if kv.value != "" {
			fmt.Fprintf(&b, "%s = %s\n", kv.key, tomlString(kv.value))
		}
	}
	if d.TrustedForwarders != nil {
		fmt.Fprintf(&b, "trusted_forwarders = %s\n", tomlList(d.TrustedForwarders))
	}
	if d.TrustedRelays != nil {
		fmt.Fprintf(&b, "trusted_relays = %s\n", tomlList(d.TrustedRelays))
	}
	if b.Len() == 0 {
		return ""
	}
	return "\n[dmarc]\n" + b.String()
}

// TOML renders the configuration file.
func (c DaemonConfig) TOML() string {
	var b strings.Builder
	b.WriteString("# Written by the authmilter end-to-end tests (e2e/daemon.go).\n")
	if c.Listen != "" {
		fmt.Fprintf(&b, "listen = %s\n", tomlString(c.Listen))
	}
	if c.SocketMode != "" {
		fmt.Fprintf(&b, "socket_mode = %s\n", tomlString(c.SocketMode))
	}
	fmt.Fprintf(&b, "authserv_id = %s\n", tomlString(c.AuthservID))
	// Top-level keys must come before the first table header.
	if c.InternalNetworks != nil {
		fmt.Fprintf(&b, "internal_networks = %s\n", tomlList(c.InternalNetworks))
	}
	b.WriteString("\n[dns]\n")
	fmt.Fprintf(&b, "nameservers = %s\n", tomlList(c.Nameservers))
	if c.DNSTimeout != "" {
		fmt.Fprintf(&b, "timeout = %s\n", tomlString(c.DNSTimeout))
	}
	if c.OnDNSError != "" {
		b.WriteString("\n[verify]\n")
		fmt.Fprintf(&b, "on_dns_error = %s\n", tomlString(c.OnDNSError))
	}
	b.WriteString(c.DMARC.toml())
	b.WriteString(c.Signing.toml())
	return b.String()
}

// tomlList renders ss as a TOML array of strings.
func tomlList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// tomlString quotes s as a TOML basic string. The values the tests write
// are printable ASCII, where TOML's escapes and Go's agree.
func tomlString(s string) string { return strconv.Quote(s) }

// WriteConfig writes cfg as dir/name and returns the path.
func WriteConfig(dir, name string, cfg DaemonConfig) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(cfg.TOML()), 0o644); err != nil {
		return "", fmt.Errorf("%w: %v", ErrDaemon, err)
	}
	return p, nil
}

// Daemon is a running `authmilter serve`.
type Daemon struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, set before done is closed
}

// StartDaemon runs `bin serve -c cfgPath` and waits until it accepts
// connections on cfg.Listen. The daemon dies with the test process
// (Pdeathsig), so a crashed test run leaves none behind.
func StartDaemon(bin, cfgPath string, cfg DaemonConfig) (*Daemon, error) {
	cmd := exec.Command(bin, "serve", "-c", cfgPath)
	d := &Daemon{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = d.stderr
	cmd.Stderr = d.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDaemon, err)
	}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	network, addr, ok := strings.Cut(cfg.Listen, ":")
	if !ok || (network != "inet" && network != "unix") {
		_ = d.Stop()
		return nil, fmt.Errorf("%w: listen %q is neither inet: nor unix:", ErrDaemon, cfg.Listen)
	}
	if network == "inet" {
		network = "tcp"
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-d.done:
			return nil, fmt.Errorf("%w: exited before listening (%v); stderr:\n%s", ErrDaemon, d.err, d.Stderr())
		default:
		}
		if err := WaitDial(network, addr, 0); err == nil {
			return d, nil
		}
		if time.Now().After(deadline) {
			_ = d.Stop()
			return nil, fmt.Errorf("%w: not listening on %s after 30s; stderr:\n%s", ErrDaemon, cfg.Listen, d.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stderr returns the daemon's log so far.
func (d *Daemon) Stderr() string { return d.stderr.String() }

// Running reports whether the process is still alive: a test that sees it
// gone has found a crash.
func (d *Daemon) Running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM and waits for the daemon to exit (SIGKILL after 15 s).
// It reports an unclean exit, a kill, and any data race the race detector
// printed: all are bugs in the daemon.
func (d *Daemon) Stop() error {
	var errs []error
	if d.Running() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
			if d.err != nil {
				errs = append(errs, fmt.Errorf("%w: exit after SIGTERM: %v", ErrDaemon, d.err))
			}
		case <-time.After(15 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
			errs = append(errs, fmt.Errorf("%w: still running 15s after SIGTERM, killed", ErrDaemon))
		}
	} else {
		errs = append(errs, fmt.Errorf("%w: had exited before Stop: %v", ErrDaemon, d.err))
	}
	if strings.Contains(d.Stderr(), "WARNING: DATA RACE") {
		errs = append(errs, fmt.Errorf("%w: the race detector found a data race (see its stderr)", ErrDaemon))
	}
	return errors.Join(errs...)
}

// VerifyResult is the output of one run of an authmilter command
// (verify, sign, keygen, testkey).
type VerifyResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// RunVerify runs `bin verify -c cfgPath --client-ip IP --helo NAME
// --mail-from ADDR` with msg on standard input.
func RunVerify(ctx context.Context, bin, cfgPath, clientIP, helo, mailFrom string, msg []byte) (*VerifyResult, error) {
	return RunCommand(ctx, bin, msg, "verify", "-c", cfgPath,
		"--client-ip", clientIP, "--helo", helo, "--mail-from="+mailFrom)
}

// RunCommand runs `bin args...` with stdin (nil: none) on standard input.
// A non-zero exit status is not an error (see ExitCode): the tests judge
// it. Failing to run the binary at all, or its death by a signal, is.
func RunCommand(ctx context.Context, bin string, stdin []byte, args ...string) (*VerifyResult, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	// A binary built with -race sleeps a second at exit (the race
	// runtime's atexit_sleep_ms, to let racing goroutines be reported);
	// over hundreds of short runs that is minutes. A race is still
	// reported, below.
	cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := &VerifyResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case strings.Contains(res.Stderr, "WARNING: DATA RACE"):
		return res, fmt.Errorf("%w: %s: the race detector found a data race:\n%s", ErrDaemon, args[0], res.Stderr)
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		res.ExitCode = ee.ExitCode()
	default:
		return res, fmt.Errorf("%w: %s: %v; stderr: %s", ErrDaemon, args[0], err, res.Stderr)
	}
	return res, nil
}

// OutputFields reads the header fields `authmilter verify` prints
// ("Name: value" lines, folded with CRLF or LF and white space), unfolded,
// by lower-case name.
func OutputFields(stdout string) map[string][]string {
	unfolded := strings.NewReplacer("\r\n ", " ", "\r\n\t", " ", "\n ", " ", "\n\t", " ").Replace(stdout)
	out := map[string][]string{}
	for _, line := range strings.Split(unfolded, "\n") {
		line = strings.TrimRight(line, "\r")
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		out[strings.ToLower(name)] = append(out[strings.ToLower(name)], strings.TrimSpace(value))
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the
// test's reads at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
