package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Contrib is what the harness takes from the contrib/postfix snippets that
// we ship to administrators: every main.cf parameter, and the milter
// options of the master.cf submission service.
type Contrib struct {
	// Main holds the main.cf snippet's parameters in file order.
	Main []Param
	// MilterAddr is the socket address the snippet's smtpd_milters names;
	// tests replace it with their own daemon's address.
	MilterAddr string
	// SubmissionOptions are the submission entry's "-o milter_*" settings.
	// The entry's TLS and SASL settings need a certificate and a SASL
	// database the tests do not have, and authmilter relies on none of them.
	SubmissionOptions []Param
}

// LoadContrib reads main.cf and master.cf from dir (contrib/postfix).
func LoadContrib(dir string) (*Contrib, error) {
	mainCF, err := os.Open(filepath.Join(dir, "main.cf"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPostfix, err)
	}
	defer mainCF.Close()
	params, err := ParseMainCF(mainCF)
	if err != nil {
		return nil, fmt.Errorf("%s/main.cf: %w", dir, err)
	}
	c := &Contrib{Main: params}
	for _, p := range params {
		if p.Name == "smtpd_milters" {
			if f := strings.Fields(p.Value); len(f) == 1 {
				c.MilterAddr = f[0]
			}
		}
	}
	if c.MilterAddr == "" {
		return nil, fmt.Errorf("%w: %s/main.cf: want smtpd_milters with exactly one socket address", ErrConfigSyntax, dir)
	}

	masterCF, err := os.Open(filepath.Join(dir, "master.cf"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPostfix, err)
	}
	defer masterCF.Close()
	entries, err := ParseMasterCF(masterCF)
	if err != nil {
		return nil, fmt.Errorf("%s/master.cf: %w", dir, err)
	}
	found := false
	for _, e := range entries {
		if e.Service != "submission" {
			continue
		}
		found = true
		opts, err := e.Options()
		if err != nil {
			return nil, fmt.Errorf("%s/master.cf: %w", dir, err)
		}
		for _, o := range opts {
			if strings.HasPrefix(o.Name, "milter_") || strings.HasSuffix(o.Name, "_milters") {
				c.SubmissionOptions = append(c.SubmissionOptions, o)
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: %s/master.cf: no submission service", ErrConfigSyntax, dir)
	}
	return c, nil
}

// MainParams returns the snippet's main.cf parameters with the snippet's
// socket address replaced by milterAddr wherever it appears (smtpd_milters,
// non_smtpd_milters).
func (c *Contrib) MainParams(milterAddr string) []Param {
	out := make([]Param, len(c.Main))
	for i, p := range c.Main {
		f := strings.Fields(p.Value)
		for j := range f {
			if f[j] == c.MilterAddr {
				f[j] = milterAddr
			}
		}
		if strings.HasSuffix(p.Name, "_milters") {
			p.Value = strings.Join(f, " ")
		}
		out[i] = p
	}
	return out
}

// Listener is one smtpd service of the test instance, on a loopback port of
// its own, so that tests can run the same Postfix against several milter
// setups at once.
type Listener struct {
	// Name identifies the listener for Postfix.Addr.
	Name string
	// Submission applies the contrib master.cf submission options
	// (milter_macro_daemon_name=ORIGINATING).
	Submission bool
	// Options are this service's "-o" overrides, such as its own
	// smtpd_milters.
	Options []Param
}

// PostfixConfig describes a private Postfix instance.
type PostfixConfig struct {
	// Contrib supplies the milter settings (required).
	Contrib *Contrib
	// MilterAddr replaces the contrib snippet's socket address.
	MilterAddr string
	// RelayTo is the SMTP sink ("127.0.0.1:PORT") every message goes to.
	RelayTo string
	// Listeners are the smtpd services; at least one.
	Listeners []Listener
	// Extra main.cf parameters, applied last.
	Extra []Param
}

// Postfix is a running private Postfix instance.
type Postfix struct {
	dir, confDir string
	addrs        map[string]string
	reaper       *Reaper
	started      bool // postfix start was run: Stop must run postfix stop
}

// masterServices are the internal services a relay-only Postfix needs,
// modelled on Debian's master.cf with chroot off everywhere: with chroot on,
// a unix: milter path would resolve inside the queue directory. postlog
// carries the daemons' logging to maillog_file (there is no syslog here).
const masterServices = `pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`

// StartPostfix configures and starts a private instance in a new temporary
// directory. The instance is torn down by Stop, and also (by a Reaper) if
// the test process dies without calling Stop, so a crashed or timed-out
// test run leaves no Postfix behind.
func StartPostfix(cfg PostfixConfig) (*Postfix, error) {
	if cfg.Contrib == nil || len(cfg.Listeners) == 0 || cfg.RelayTo == "" {
		return nil, fmt.Errorf("%w: config needs Contrib, RelayTo and a listener", ErrPostfix)
	}
	uid, gid, err := postfixIDs()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPostfix, err)
	}
	dir, err := os.MkdirTemp("", "authmilter-e2e-postfix-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPostfix, err)
	}
	p := &Postfix{dir: dir, confDir: filepath.Join(dir, "conf"), addrs: map[string]string{}}
	ok := false
	defer func() {
		if !ok {
			_ = p.Stop()
		}
	}()
	queueDir, dataDir := filepath.Join(dir, "queue"), filepath.Join(dir, "data")
	// The postfix user must reach the queue, the log and unix sockets below
	// dir; MkdirTemp makes it 0700.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPostfix, err)
	}
	for _, d := range []string{p.confDir, queueDir, dataDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPostfix, err)
		}
	}
	// master.lock and the caches live in data_directory, which must belong
	// to mail_owner; `postfix start` creates the queue's subdirectories
	// itself (with the right owners) when run as root.
	if err := os.Chown(dataDir, uid, gid); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPostfix, err)
	}
	if err := os.Chmod(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPostfix, err)
	}

	relay := "smtp:[" + strings.Replace(cfg.RelayTo, ":", "]:", 1)
	params := newParamList()
	for _, kv := range [][2]string{
		{"compatibility_level", "3.6"},
		{"queue_directory", queueDir},
		{"data_directory", dataDir},
		{"mail_owner", "postfix"},
		{"setgid_group", "postdrop"},
		{"myhostname", "mx.test"},
		{"mydomain", "test"},
		{"myorigin", "$myhostname"},
		{"inet_interfaces", "127.0.0.1"},
		// IPv6 must be on for smtpd to take an IPv6 client address in
		// XCLIENT; the listeners stay on 127.0.0.1 all the same.
		{"inet_protocols", "ipv4, ipv6"},
		{"mynetworks", "127.0.0.0/8"},
		// Deliver nothing locally: relay every domain to the sink without
		// DNS (the milter's DNS is the test's fake zone, Postfix's none).
		{"mydestination", ""},
		{"local_recipient_maps", ""},
		{"alias_maps", ""},
		{"alias_database", ""},
		{"relay_domains", "static:ALL"},
		{"relay_transport", relay},
		{"default_transport", relay},
		{"smtp_dns_support_level", "disabled"},
		// XCLIENT lets loopback test clients present any client address and
		// HELO to Postfix, and so to the milter.
		{"smtpd_authorized_xclient_hosts", "127.0.0.0/8"},
		// Judge every client as remote, as an MX sees the Internet: the
		// test clients really connect from 127.0.0.1, which the default
		// (permit_inet_interfaces) would take as local and so rewrite
		// header addresses (append @$myorigin) and add a missing From
		// from the envelope sender before the milter sees the header.
		{"local_header_rewrite_clients", ""},
		{"in_flow_delay", "0"},
		{"maillog_file", filepath.Join(dir, "maillog")},
		{"maillog_file_prefixes", dir},
		{"biff", "no"},
		// Retry a failed relay attempt quickly instead of in minutes.
		{"queue_run_delay", "1s"},
		{"minimal_backoff_time", "1s"},
		{"maximal_backoff_time", "2s"},
	} {
		params.set(kv[0], kv[1])
	}
	for _, prm := range cfg.Contrib.MainParams(cfg.MilterAddr) {
		params.set(prm.Name, prm.Value)
	}
	for _, prm := range cfg.Extra {
		params.set(prm.Name, prm.Value)
	}
	if err := os.WriteFile(filepath.Join(p.confDir, "main.cf"), []byte(params.String()), 0o644); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPostfix, err)
	}

	var master strings.Builder
	for _, l := range cfg.Listeners {
		addr, err := FreePort()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPostfix, err)
		}
		p.addrs[l.Name] = addr
		fmt.Fprintf(&master, "%s inet n - n - - smtpd\n", addr)
		fmt.Fprintf(&master, "  -o { syslog_name = postfix/%s }\n", l.Name)
		opts := l.Options
		if l.Submission {
			opts = append(append([]Param(nil), cfg.Contrib.SubmissionOptions...), opts...)
		}
		for _, o := range opts {
			fmt.Fprintf(&master, "  -o { %s = %s }\n", o.Name, o.Value)
		}
	}
	master.WriteString(masterServices)
	if err := os.WriteFile(filepath.Join(p.confDir, "master.cf"), []byte(master.String()), 0o644); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPostfix, err)
	}

	if err := p.startReaper(); err != nil {
		return nil, err
	}
	p.started = true
	if out, err := p.postfix("start"); err != nil {
		return nil, fmt.Errorf("%w: postfix start: %v: %s\nmaillog:\n%s", ErrPostfix, err, out, p.Maillog())
	}
	for name, addr := range p.addrs {
		if err := WaitDial("tcp", addr, 20*time.Second); err != nil {
			return nil, fmt.Errorf("%w: listener %s: %v\nmaillog:\n%s", ErrPostfix, name, err, p.Maillog())
		}
	}
	ok = true
	return p, nil
}

// postfix runs postfix(1) on this instance. postfix(1) writes its messages
// to stderr only when that is a terminal, so errors mostly end up in the
// maillog.
func (p *Postfix) postfix(args ...string) ([]byte, error) {
	cmd := exec.Command(postfixCmd, append([]string{"-c", p.confDir}, args...)...)
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	return cmd.CombinedOutput()
}

// startReaper has a Reaper stop the instance and remove its directory
// should this process die without calling Stop.
func (p *Postfix) startReaper() error {
	r, err := StartReaper()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPostfix, err)
	}
	p.reaper = r
	if err := r.StopPostfix(p.confDir); err != nil {
		return fmt.Errorf("%w: %v", ErrPostfix, err)
	}
	if err := r.Remove(p.dir); err != nil {
		return fmt.Errorf("%w: %v", ErrPostfix, err)
	}
	return nil
}

// Addr returns the "127.0.0.1:PORT" address of the named listener.
func (p *Postfix) Addr(listener string) string { return p.addrs[listener] }

// Dir returns the instance's top directory (conf/, queue/, data/, maillog).
func (p *Postfix) Dir() string { return p.dir }

// Maillog returns the instance's log so far (for failure reports).
func (p *Postfix) Maillog() string {
	b, err := os.ReadFile(filepath.Join(p.dir, "maillog"))
	if err != nil {
		return fmt.Sprintf("(no maillog: %v)", err)
	}
	return string(b)
}

// MaillogSince returns the log written after offset bytes, and the new
// offset; tests use it to show only their own part of a shared log.
func (p *Postfix) MaillogSince(offset int64) (string, int64) {
	b, err := os.ReadFile(filepath.Join(p.dir, "maillog"))
	if err != nil || int64(len(b)) < offset {
		return "", offset
	}
	return string(b[offset:]), int64(len(b))
}

// Queue lists the messages still in the queue (postqueue -j output), which
// must be empty after a test that expected a rejection.
func (p *Postfix) Queue() (string, error) {
	cmd := exec.Command("/usr/sbin/postqueue", "-c", p.confDir, "-j")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// QueuedMessage is one message of `postqueue -j` (postqueue(1), "JSON
// OBJECT FORMAT"), with the fields the tests read.
type QueuedMessage struct {
	// QueueName is "maildrop", "incoming", "active", "deferred" or
	// "hold"; a milter's quarantine action puts a message into "hold".
	QueueName  string `json:"queue_name"`
	QueueID    string `json:"queue_id"`
	Sender     string `json:"sender"`
	Recipients []struct {
		Address     string `json:"address"`
		DelayReason string `json:"delay_reason"`
	} `json:"recipients"`
}

// QueuedFor returns the queued messages (any queue) that have rcpt among
// their recipients, compared without regard to case.
func (p *Postfix) QueuedFor(rcpt string) ([]QueuedMessage, error) {
	// Standard output only: warnings on standard error are not JSON.
	cmd := exec.Command("/usr/sbin/postqueue", "-c", p.confDir, "-j")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: postqueue -j: %v: %s", ErrPostfix, err, stderr.Bytes())
	}
	var found []QueuedMessage
	// One JSON object per line; an empty queue prints nothing.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m QueuedMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("%w: postqueue -j line %q: %v", ErrPostfix, line, err)
		}
		for _, r := range m.Recipients {
			if strings.EqualFold(r.Address, rcpt) {
				found = append(found, m)
				break
			}
		}
	}
	return found, nil
}

// QueuedHeader returns the header section of a message still in the queue
// (any queue, hold included), as postcat(1) shows it.
func (p *Postfix) QueuedHeader(queueID string) (mail.Header, error) {
	cmd := exec.Command("/usr/sbin/postcat", "-c", p.confDir, "-h", "-q", queueID)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: postcat -hq %s: %v: %s", ErrPostfix, queueID, err, stderr.Bytes())
	}
	// postcat -h prints the header fields alone; the blank line after
	// them makes it a message for net/mail.
	m, err := mail.ReadMessage(bytes.NewReader(append(bytes.TrimRight(out, "\n"), "\n\n"...)))
	if err != nil {
		return nil, fmt.Errorf("%w: postcat -hq %s output does not parse: %v\n%s", ErrPostfix, queueID, err, out)
	}
	return m.Header, nil
}

// Stop stops Postfix (postfix stop waits for the master to exit), ends the
// watchdog and removes the instance's directory. It is safe to call more
// than once.
func (p *Postfix) Stop() error {
	var errs []error
	if p.started {
		p.started = false
		pid := p.masterPID()
		out, err := p.postfix("stop")
		// postfix stop gives up after 5 s; never leave a master running
		// on a directory we are about to remove.
		if pid > 0 && !waitExit(pid, 10*time.Second) {
			_ = syscall.Kill(-pid, syscall.SIGKILL) // the master leads its process group
			waitExit(pid, 5*time.Second)
			errs = append(errs, fmt.Errorf("%w: master %d outlived postfix stop (%v: %s); killed", ErrPostfix, pid, err, bytes.TrimSpace(out)))
		} else if err != nil && pid > 0 {
			errs = append(errs, fmt.Errorf("%w: postfix stop: %v: %s", ErrPostfix, err, bytes.TrimSpace(out)))
		}
	}
	if p.dir != "" {
		if err := os.RemoveAll(p.dir); err != nil {
			errs = append(errs, fmt.Errorf("%w: %v", ErrPostfix, err))
		}
	}
	if p.reaper != nil {
		p.reaper.Done()
		p.reaper = nil
	}
	return errors.Join(errs...)
}

// masterPID returns the running master's process ID from its pid file, or
// 0 if there is none.
func (p *Postfix) masterPID() int {
	b, err := os.ReadFile(filepath.Join(p.dir, "queue", "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	if !alive(pid) {
		return 0
	}
	return pid
}

// alive reports whether process pid exists and is not a zombie: a
// daemonized master is reparented to PID 1, which in a container may never
// reap it.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// waitExit waits until process pid is gone, and reports whether it is.
func waitExit(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// paramList is an ordered main.cf: setting a parameter again replaces its
// value in place, so the file never has duplicates (Postfix would warn).
type paramList struct {
	names  []string
	values map[string]string
}

func newParamList() *paramList { return &paramList{values: map[string]string{}} }

func (l *paramList) set(name, value string) {
	if _, ok := l.values[name]; !ok {
		l.names = append(l.names, name)
	}
	l.values[name] = value
}

func (l *paramList) String() string {
	var b strings.Builder
	b.WriteString("# Written by the authmilter end-to-end tests (e2e/postfix.go).\n")
	for _, n := range l.names {
		fmt.Fprintf(&b, "%s = %s\n", n, l.values[n])
	}
	return b.String()
}
