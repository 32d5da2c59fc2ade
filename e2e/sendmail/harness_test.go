package sendmail

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/authmilter/authmilter/e2e"
)

// The Debian paths of the programs the tests drive. sendmail-bin installs
// the binary under /usr/lib/sm.bin (/usr/sbin/sendmail is an alternative
// that may point at another MTA); sendmail-cf the m4 library.
const (
	sendmailCmd = "/usr/libexec/sendmail/sendmail"
	cfM4        = "/usr/share/sendmail/cf/m4/cf.m4"
	m4Cmd       = "/usr/bin/m4"
	unshareCmd  = "/usr/bin/unshare"
)

// ErrSendmail is a failure to configure, start or stop Sendmail.
var ErrSendmail = errors.New("e2e/sendmail: sendmail")

// checkTools reports (wrapping e2e.ErrMissingTool) why Sendmail cannot run
// here.
func checkTools() error {
	var missing []string
	for _, p := range []string{sendmailCmd, cfM4, m4Cmd, unshareCmd} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s not installed (scripts/test's Sendmail phase installs sendmail-bin, sendmail-cf and m4)",
			e2e.ErrMissingTool, strings.Join(missing, ", "))
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: Sendmail's daemon and unshare need root (euid is %d)", e2e.ErrMissingTool, os.Geteuid())
	}
	return nil
}

// mcConfig is what the test's sendmail.mc is made of.
type mcConfig struct {
	Dir      string // everything of the instance lives here
	MTAPort  int    // Name=MTA listener: the contrib filter (inet)
	MSAPort  int    // Name=MSA listener: the contrib filter (inet)
	UnixPort int    // Name=MTA listener with the unix-socket filter
	DownPort int    // Name=MTA listener whose filter is not running
	SinkPort int    // the next hop every message is relayed to
	// Contrib is contrib/sendmail/authmilter.mc with its S= replaced;
	// Extra declares more filters (the unix-socket one).
	Contrib, Extra string
}

// filterName and unixFilterName are the X (filter) names: the contrib
// file's, and the second filter the benchmark compares it with.
const (
	filterName     = "authmilter"
	unixFilterName = "authmilter_unix"
	downFilterName = "authmilter_down"
)

// contribSocket is the S= of the contrib file as shipped; the test replaces
// it with its own daemon's address.
const contribSocket = "S=inet:8891@127.0.0.1,"

// contribLines reads the contrib file and points its filter at socket
// ("inet:PORT@127.0.0.1" or "local:/path").
func contribLines(root, socket string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "contrib", "sendmail", "authmilter.mc"))
	if err != nil {
		return "", err
	}
	s := string(b)
	if strings.Count(s, contribSocket) != 1 {
		return "", fmt.Errorf("%w: contrib/sendmail/authmilter.mc must contain %q exactly once", ErrSendmail, contribSocket)
	}
	return strings.Replace(s, contribSocket, "S="+socket+",", 1), nil
}

// renamedFilter returns the contrib file's INPUT_MAIL_FILTER line for
// another filter name and socket, with the contrib flags and timeouts.
func renamedFilter(contrib, name, socket string) (string, error) {
	for _, line := range strings.Split(contrib, "\n") {
		if strings.HasPrefix(line, "INPUT_MAIL_FILTER(`"+filterName+"',") {
			_, rest, _ := strings.Cut(line, "`S=")
			_, flags, ok := strings.Cut(rest, ",")
			if !ok {
				break
			}
			return "INPUT_MAIL_FILTER(`" + name + "', `S=" + socket + "," + flags, nil
		}
	}
	return "", fmt.Errorf("%w: no INPUT_MAIL_FILTER(`%s', ...) line in the contrib file", ErrSendmail, filterName)
}

// mc renders the instance's sendmail.mc. MAIL_SETTINGS_DIR must come
// before cf.m4; the contrib lines come after the include, as the file says.
// Each listener names its filters (InputMailFilters), so the MTA and MSA
// listeners use exactly the contrib filter and the third one only the unix
// socket's.
func (c mcConfig) mc() string {
	d := c.Dir
	relay := fmt.Sprintf("TCP $h %d", c.SinkPort)
	return "divert(-1)\n" +
		"define(`MAIL_SETTINGS_DIR', `" + d + "/')\n" +
		"divert(0)dnl\n" +
		"include(`" + cfM4 + "')dnl\n" +
		"VERSIONID(`authmilter e2e/sendmail')dnl\n" +
		"OSTYPE(`linux')dnl\n" +
		"define(`confDOMAIN_NAME', `mta.test')dnl\n" +
		"define(`confPID_FILE', `" + d + "/sendmail.pid')dnl\n" +
		"define(`QUEUE_DIR', `" + d + "/queue')dnl\n" +
		"define(`STATUS_FILE', `" + d + "/sendmail.st')dnl\n" +
		"define(`ALIAS_FILE', `" + d + "/aliases')dnl\n" +
		"define(`confSERVICE_SWITCH_FILE', `" + d + "/service.switch')dnl\n" +
		"define(`confHOSTS_FILE', `" + d + "/hosts')dnl\n" +
		"define(`confDONT_PROBE_INTERFACES', `True')dnl\n" +
		// The unix socket's directory is private (0700), but it lies
		// under the temporary directory, sticky and world-writable,
		// which Sendmail refuses unless told to trust the sticky bit.
		"define(`confDONT_BLAME_SENDMAIL', `TrustStickyBit')dnl\n" +
		"define(`confCHECK_ALIASES', `False')dnl\n" +
		// A loaded test machine must not make Sendmail queue instead of
		// delivering, or refuse connections.
		"define(`confQUEUE_LA', `1000')dnl\n" +
		"define(`confREFUSE_LA', `1000')dnl\n" +
		"define(`confDELAY_LA', `0')dnl\n" +
		"define(`confMAX_DAEMON_CHILDREN', `0')dnl\n" +
		"define(`confCONNECTION_RATE_THROTTLE', `0')dnl\n" +
		"define(`confTO_IDENT', `0s')dnl\n" +
		"FEATURE(`nocanonify')dnl\n" +
		"FEATURE(`accept_unresolvable_domains')dnl\n" +
		// Loopback only: every client of this instance is a test.
		"FEATURE(`promiscuous_relay')dnl\n" +
		"define(`SMART_HOST', `esmtp:[127.0.0.1]')dnl\n" +
		"define(`MAIL_HUB', `esmtp:[127.0.0.1]')dnl\n" +
		"define(`ESMTP_MAILER_ARGS', `" + relay + "')dnl\n" +
		"define(`SMTP_MAILER_ARGS', `" + relay + "')dnl\n" +
		"define(`RELAY_MAILER_ARGS', `" + relay + "')dnl\n" +
		fmt.Sprintf("DAEMON_OPTIONS(`Family=inet, Addr=127.0.0.1, Port=%d, Name=MTA, Listen=128, InputMailFilters="+filterName+"')dnl\n", c.MTAPort) +
		fmt.Sprintf("DAEMON_OPTIONS(`Family=inet, Addr=127.0.0.1, Port=%d, Name=MSA, M=E, Listen=128, InputMailFilters="+filterName+"')dnl\n", c.MSAPort) +
		fmt.Sprintf("DAEMON_OPTIONS(`Family=inet, Addr=127.0.0.1, Port=%d, Name=MTA, Listen=128, InputMailFilters="+unixFilterName+"')dnl\n", c.UnixPort) +
		fmt.Sprintf("DAEMON_OPTIONS(`Family=inet, Addr=127.0.0.1, Port=%d, Name=MTA, Listen=128, InputMailFilters="+downFilterName+"')dnl\n", c.DownPort) +
		c.Contrib + "\n" + c.Extra + "\n" +
		"MAILER(`local')dnl\n" +
		"MAILER(`smtp')dnl\n"
}

// Sendmail is a running private Sendmail daemon (sendmail -bD).
type Sendmail struct {
	cmd      *exec.Cmd     // unshare, the parent of the daemon
	daemon   int           // the daemon's PID (seen from here); 0 until it listens
	out      *bytes.Buffer // stdout and stderr; read only after exit
	done     chan struct{}
	watchdog *exec.Cmd
	wdPipe   *os.File
}

// startSendmail writes the .mc, builds the .cf with m4 and starts the
// daemon in UTS, mount and PID namespaces of its own, then waits for its
// listeners.
func startSendmail(ctx context.Context, c mcConfig) (*Sendmail, error) {
	d := c.Dir
	files := map[string]string{
		"sendmail.mc":    c.mc(),
		"service.switch": "hosts files\naliases files\n",
		"hosts":          "127.0.0.1 localhost\n127.0.0.1 mta.test\n",
		"aliases":        "",
		// Nothing listens on port 53 of loopback: libc's PTR lookups of
		// the clients fail at once instead of asking the machine's
		// resolvers.
		"resolv.conf": "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSendmail, err)
		}
	}
	if err := os.Mkdir(filepath.Join(d, "queue"), 0o700); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSendmail, err)
	}
	cf, err := exec.CommandContext(ctx, m4Cmd, filepath.Join(d, "sendmail.mc")).Output()
	if err != nil {
		var stderr []byte
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		return nil, fmt.Errorf("%w: m4: %v\n%s", ErrSendmail, err, stderr)
	}
	if err := os.WriteFile(filepath.Join(d, "sendmail.cf"), cf, 0o644); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSendmail, err)
	}
	// A watchdog (below) kills the instance if this process dies without
	// stopping it: Pdeathsig does not survive the exec of the
	// set-group-ID sendmail binary.
	s := &Sendmail{out: &bytes.Buffer{}, done: make(chan struct{})}
	script := "hostname mta.test && mount -n --bind " + shellQuote(filepath.Join(d, "resolv.conf")) + " /etc/resolv.conf && exec " +
		sendmailCmd + " -C " + shellQuote(filepath.Join(d, "sendmail.cf")) + " -bD"
	// The daemon is PID 1 of a PID namespace of its own: it reaps the
	// background delivery processes that outlive their SMTP session
	// (Sendmail waits for any child), and when it exits the kernel
	// kills and reaps whatever is left of the instance.
	s.cmd = exec.Command(unshareCmd, "--uts", "--mount", "--pid", "--fork", "/bin/sh", "-c", script)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSendmail, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	for _, p := range []int{c.MTAPort, c.MSAPort, c.UnixPort, c.DownPort} {
		if err := waitListen(s, p); err != nil {
			_ = s.Stop()
			return nil, err
		}
	}
	// The daemon is unshare's only child.
	if kids := children(s.cmd.Process.Pid); len(kids) == 1 {
		s.daemon = kids[0]
	} else {
		_ = s.Stop()
		return nil, fmt.Errorf("%w: want one child of unshare, found %v", ErrSendmail, kids)
	}
	if err := s.startWatchdog(); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func waitListen(s *Sendmail, port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("%w: sendmail exited before listening on %s:\n%s", ErrSendmail, addr, s.out)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			// Read the greeting so the daemon's child does not log a
			// lost connection before the banner.
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			_, _ = textproto.NewReader(bufio.NewReader(c)).ReadLine()
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: nothing listening on %s after 90s", ErrSendmail, addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startWatchdog starts a shell that, when its standard input ends without
// "done" (this process died), kills the daemon, and with it its PID
// namespace: the whole instance.
func (s *Sendmail) startWatchdog() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSendmail, err)
	}
	pids := strconv.Itoa(s.daemon) + " " + strconv.Itoa(s.cmd.Process.Pid)
	wd := exec.Command("/bin/sh", "-c", "trap '' INT TERM HUP; read -r x; [ \"$x\" = done ] || kill -9 "+pids+" 2>/dev/null; exit 0")
	wd.Stdin = r
	wd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := wd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("%w: watchdog: %v", ErrSendmail, err)
	}
	r.Close()
	s.watchdog, s.wdPipe = wd, w
	return nil
}

// Stop ends the instance. SIGTERM makes the daemon (PID 1 of its PID
// namespace) exit, and the kernel then kills and reaps its SMTP children
// and delivery processes; unshare exits with it. SIGKILL if it hangs.
func (s *Sendmail) Stop() error {
	var err error
	if s.daemon != 0 {
		_ = syscall.Kill(s.daemon, syscall.SIGTERM)
	} else {
		// Not listening yet: the daemon is somewhere below unshare.
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		err = fmt.Errorf("%w: still running 15s after SIGTERM, killed", ErrSendmail)
		if s.daemon != 0 {
			_ = syscall.Kill(s.daemon, syscall.SIGKILL)
		}
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	if s.wdPipe != nil {
		_, _ = s.wdPipe.WriteString("done\n")
		_ = s.wdPipe.Close()
		_ = s.watchdog.Wait()
		s.wdPipe = nil
	}
	return err
}

// children lists the processes whose parent is pid, read from /proc.
func children(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// stat is "pid (comm) state ppid ...", and comm may hold spaces.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(string(b[i+1:])); len(f) >= 2 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
