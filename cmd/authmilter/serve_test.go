package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"github.com/authmilter/authmilter/policy/authres"
)

// buildBinary builds authmilter once for the tests that run the real daemon
// and send it signals.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "authmilter-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "authmilter")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &exec.ExitError{Stderr: out}
	}
	return bin, nil
})

// syncBuffer collects the daemon's log.
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

// daemon is a running `authmilter serve` started by a test.
type daemon struct {
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan error // receives cmd.Wait's result once
}

// startServe runs `bin serve -c cfgPath`, collecting its log, and kills it
// when the test ends (logging the daemon's output if the test failed).
func startServe(t *testing.T, bin, cfgPath string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(bin, "serve", "-c", cfgPath), log: &syncBuffer{}, exited: make(chan error, 1)}
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log.String())
		}
	})
	return d
}

// waitFor polls cond; the deadline only guards against a hang, it is not
// what the test measures.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// milterSession opens an MTA-side session and sends connect and HELO.
func milterSession(t *testing.T, addr string) *gomilter.ClientSession {
	t.Helper()
	c := gomilter.NewClientWithOptions("tcp", addr, gomilter.ClientOptions{
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		ActionMask: gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptQuarantine,
	})
	s, err := c.Session()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Conn("client.example", gomilter.FamilyInet, 25, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Helo("client.example"); err != nil {
		t.Fatal(err)
	}
	return s
}

// authservID sends one message and returns the authserv-id of the
// Authentication-Results field authmilter adds.
func authservID(t *testing.T, s *gomilter.ClientSession) string {
	t.Helper()
	steps := []func() (*gomilter.Action, error){
		func() (*gomilter.Action, error) { return s.Mail("", nil) },
		func() (*gomilter.Action, error) { return s.Rcpt("r@mx.test", nil) },
		func() (*gomilter.Action, error) { return s.HeaderField("From", "a@example.org") },
		s.HeaderEnd,
		func() (*gomilter.Action, error) { return s.BodyChunk([]byte("hi\r\n")) },
	}
	for _, step := range steps {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	mods, act, err := s.End()
	if err != nil || act.Code != gomilter.ActContinue {
		t.Fatalf("end: %+v %v", act, err)
	}
	for _, m := range mods {
		if m.HeaderName == "Authentication-Results" {
			id, _, err := authres.Parse(m.HeaderValue)
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
	}
	t.Fatalf("no Authentication-Results in %+v", mods)
	return ""
}

// The daemon reloads on SIGHUP without dropping connections, keeps running
// on the old configuration when the new one is bad, and stops on SIGTERM.
func TestServeReloadAndStop(t *testing.T) {
	t.Parallel()
	bin, err := buildBinary()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	addr := freePort(t)
	cfgPath := filepath.Join(t.TempDir(), "authmilter.toml")
	// No DNS server answers on this port: lookups fail fast, which is fine
	// for a test about reloads (the null sender from an unresolvable HELO).
	write := func(id string) {
		t.Helper()
		c := "listen = \"inet:" + addr + "\"\nauthserv_id = \"" + id + "\"\n[dns]\nnameservers = [\"127.0.0.1:9\"]\ntimeout = \"1s\"\n"
		if err := os.WriteFile(cfgPath, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("first.test")
	d := startServe(t, bin, cfgPath)
	cmd, log, exited := d.cmd, d.log, d.exited
	waitFor(t, "the daemon to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	kept := milterSession(t, addr)
	if id := authservID(t, kept); id != "first.test" {
		t.Fatalf("authserv-id %q, want first.test", id)
	}

	write("second.test")
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(log.String(), "configuration reloaded") })
	if id := authservID(t, kept); id != "second.test" {
		t.Errorf("after reload, on the kept connection: authserv-id %q, want second.test", id)
	}

	if err := os.WriteFile(cfgPath, []byte("authserv_id = 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the failed reload", func() bool { return strings.Contains(log.String(), "reload failed") })
	if !strings.Contains(log.String(), cfgPath+":1:") {
		t.Errorf("the reload error does not name file:line:\n%s", log.String())
	}
	if id := authservID(t, kept); id != "second.test" {
		t.Errorf("after a bad reload: authserv-id %q, want second.test still", id)
	}
	fresh := milterSession(t, addr)
	if id := authservID(t, fresh); id != "second.test" {
		t.Errorf("new connection after a bad reload: %q", id)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not stop on SIGTERM")
	}
	if !strings.Contains(log.String(), "stopped") {
		t.Errorf("no clean stop in the log:\n%s", log.String())
	}
}

// A bad configuration is refused at start with file:line.
func TestServeRefusesBadConfig(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "bad.toml", "[dns]\ntimeout = \"forever\"\n")
	code, _, errs := runCmd(t, "", "serve", "-c", p)
	if code != 1 || !strings.HasPrefix(errs, p+":2: ") {
		t.Errorf("got %d %q", code, errs)
	}
}
