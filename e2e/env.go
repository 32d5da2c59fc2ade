package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Sentinel errors of the harness. Callers wrap them with %w and tests check
// them with errors.Is.
var (
	// ErrMissingTool means a program the end-to-end tests drive is not
	// installed (or the tests do not run as root).
	ErrMissingTool = errors.New("e2e: missing tool")
	// ErrPostfix is a failure to configure, start or stop Postfix.
	ErrPostfix = errors.New("e2e: postfix")
	// ErrConfigSyntax is a syntax error in a main.cf or master.cf snippet.
	ErrConfigSyntax = errors.New("e2e: config syntax")
	// ErrDaemon is a failure to build, start or stop authmilter.
	ErrDaemon = errors.New("e2e: authmilter")
	// ErrSMTP is an SMTP protocol failure in the harness's own client.
	ErrSMTP = errors.New("e2e: smtp")
	// ErrTimeout means something the test waited for did not happen.
	ErrTimeout = errors.New("e2e: timed out")
)

// The Postfix programs, by their Debian paths; postfix(1) finds the daemons
// itself through daemon_directory.
const (
	postfixCmd  = "/usr/sbin/postfix"
	postconfCmd = "/usr/sbin/postconf"
	swaksCmd    = "/usr/bin/swaks"
)

// CheckTools reports (wrapping ErrMissingTool) why the end-to-end tests
// cannot run here: Postfix or swaks not installed, the postfix user missing,
// or not root. Postfix's master must start as root to drop privileges to
// mail_owner.
func CheckTools() error {
	var missing []string
	for _, p := range []string{postfixCmd, postconfCmd, swaksCmd} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s not installed (scripts/test installs the Debian packages postfix and swaks)",
			ErrMissingTool, strings.Join(missing, ", "))
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: Postfix's master daemon must be started as root (euid is %d)", ErrMissingTool, os.Geteuid())
	}
	if _, _, err := postfixIDs(); err != nil {
		return fmt.Errorf("%w: %v", ErrMissingTool, err)
	}
	return nil
}

// InCI reports whether the environment variable CI asks for a CI run, in
// which missing tools are failures rather than reasons to skip.
func InCI() bool {
	v := strings.TrimSpace(os.Getenv("CI"))
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b // "CI=yes" or any other non-boolean value counts as set
}

// postfixIDs returns the uid and gid of the mail_owner account that the
// Debian package creates.
func postfixIDs() (uid, gid int, err error) {
	u, err := user.Lookup("postfix")
	if err != nil {
		return 0, 0, err
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("non-numeric ids for user postfix: %q, %q", u.Uid, u.Gid)
	}
	return uid, gid, nil
}

// RepoRoot returns the module root (the directory holding go.mod), found by
// walking up from the working directory; go test runs in the package's
// directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("e2e: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// handedOut remembers the ports FreePort gave out: once closed, a port can
// come back from the kernel on the next bind to port 0, and two servers of
// one test run must not be handed the same one.
var handedOut = struct {
	sync.Mutex
	ports map[string]bool
}{ports: map[string]bool{}}

// FreePort returns a loopback TCP address that was free a moment ago, for a
// server we cannot hand a listener to (Postfix, authmilter). Another process
// could take it in between; on loopback in a test machine that does not
// happen in practice.
func FreePort() (string, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := ln.Addr().String()
		if err := ln.Close(); err != nil {
			return "", err
		}
		if !handedOut.ports[addr] {
			handedOut.ports[addr] = true
			return addr, nil
		}
	}
	return "", errors.New("e2e: no fresh loopback port after 100 tries")
}

// WaitDial polls until a connection to network/addr succeeds: our readiness
// check for servers that say nothing when they are ready.
func WaitDial(network, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: nothing listening on %s %s: %v", ErrTimeout, network, addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Reaper cleans up after a test process that dies without running its
// cleanup (a panic, a -timeout, SIGKILL): a shell in its own process group,
// deaf to terminal signals, that reads instructions from a pipe whose write
// end only this process holds. Done dismisses it; if this process dies
// first, the shell sees end-of-file and carries the instructions out.
type Reaper struct {
	mu  sync.Mutex
	cmd *exec.Cmd
	w   *os.File
}

// reaperScript: "stop CONFDIR" lines name Postfix instances to stop (laid
// out as StartPostfix does: CONFDIR/../queue), "rm PATH" lines paths to
// remove (temporary paths, without white space).
const reaperScript = `trap '' INT TERM HUP
stops= rms=
while read -r verb arg; do
	case $verb in
	done) exit 0 ;;
	stop) stops="$stops $arg" ;;
	rm) rms="$rms $arg" ;;
	esac
done
for c in $stops; do
	pid=$(sed 1q "$c/../queue/pid/master.pid" 2>/dev/null | tr -d ' ')
	` + postfixCmd + ` -c "$c" stop >/dev/null 2>&1
	# The master leads its own process group (session): take the group
	# down if "postfix stop" could not.
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 -- "-$pid"; fi
done
for p in $rms; do rm -rf -- "$p"; done
`

// StartReaper starts a reaper with nothing to do yet.
func StartReaper() (*Reaper, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/bin/sh", "-c", reaperScript)
	cmd.Stdin = r
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	r.Close()
	return &Reaper{cmd: cmd, w: w}, nil
}

func (r *Reaper) send(verb, arg string) error {
	if strings.ContainsAny(arg, " \t\r\n") {
		return fmt.Errorf("reaper: %q contains white space", arg)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return errors.New("reaper: already dismissed")
	}
	_, err := fmt.Fprintf(r.w, "%s %s\n", verb, arg)
	return err
}

// StopPostfix makes the reaper stop the instance whose configuration
// directory is confDir.
func (r *Reaper) StopPostfix(confDir string) error { return r.send("stop", confDir) }

// Remove makes the reaper remove path.
func (r *Reaper) Remove(path string) error { return r.send("rm", path) }

// Done dismisses the reaper: the caller has cleaned up itself.
func (r *Reaper) Done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return
	}
	_, _ = r.w.WriteString("done\n")
	_ = r.w.Close()
	r.w = nil
	_ = r.cmd.Wait()
}
