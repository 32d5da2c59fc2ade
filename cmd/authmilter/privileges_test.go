package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/authmilter/authmilter/config"
)

// requireRoot skips a test that needs root, except in CI, where tests run
// as root and a skip would hide the test silently.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set but the tests run as uid %d; this test needs root", os.Geteuid())
	}
	t.Skip("needs root (runs as root in CI)")
}

// procIDs returns the four IDs of the "Uid:" or "Gid:" line (real,
// effective, saved, filesystem) of /proc/PID/status, and the "Groups:" line.
func procIDs(t *testing.T, pid int) (uids, gids, groups string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.Join(strings.Fields(v), " ")
		switch k {
		case "Uid":
			uids = v
		case "Gid":
			gids = v
		case "Groups":
			groups = v
		}
	}
	return uids, gids, groups
}

// Started as root with user = "nobody", the real daemon opens its unix
// socket with the configured group and mode and then runs as nobody:
// real, effective, saved and filesystem IDs all 65534, no other groups.
func TestServeDropsPrivileges(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("this test needs the nobody user: %v", err)
	}
	nogroup, err := user.LookupGroup("nogroup")
	if err != nil {
		t.Fatalf("this test needs the nogroup group: %v", err)
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "milter.sock")
	cfgPath := filepath.Join(dir, "authmilter.toml")
	cfg := "listen = \"unix:" + sock + "\"\nsocket_mode = \"0660\"\nsocket_group = \"nogroup\"\n" +
		"user = \"nobody\"\nauthserv_id = \"mx.test\"\n[dns]\nnameservers = [\"127.0.0.1:9\"]\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startServe(t, bin, cfgPath)
	log := d.log
	waitFor(t, "the daemon to start", func() bool { return strings.Contains(log.String(), "authmilter started") })
	if !strings.Contains(log.String(), "dropped privileges") {
		t.Errorf("no \"dropped privileges\" log line")
	}
	if strings.Contains(log.String(), "running as root") {
		t.Errorf("warned about root although user is set")
	}

	want := func(id string) string { return strings.Repeat(id+" ", 3) + id }
	uids, gids, groups := procIDs(t, d.cmd.Process.Pid)
	if uids != want(nobody.Uid) || gids != want(nobody.Gid) {
		t.Errorf("/proc status: Uid %q, Gid %q; want all %s and %s", uids, gids, nobody.Uid, nobody.Gid)
	}
	wantGroups, _ := nobody.GroupIds()
	if groups != strings.Join(wantGroups, " ") {
		t.Errorf("/proc status: Groups %q, want %q (root's groups must be gone)", groups, strings.Join(wantGroups, " "))
	}

	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if strconv.Itoa(int(st.Gid)) != nogroup.Gid || fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket: gid %d mode %v; want gid %s, socket, 0660", st.Gid, fi.Mode(), nogroup.Gid)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("after dropping privileges the socket does not answer: %v", err)
	}
	c.Close()
}

// Without user, a daemon started as root says so.
func TestServeWarnsAsRoot(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	bin, err := buildBinary()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "authmilter.toml")
	cfg := "listen = \"unix:" + filepath.Join(dir, "m.sock") + "\"\nauthserv_id = \"mx.test\"\n[dns]\nnameservers = [\"127.0.0.1:9\"]\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startServe(t, bin, cfgPath)
	log := d.log
	waitFor(t, "the daemon to start", func() bool { return strings.Contains(log.String(), "authmilter started") })
	if !strings.Contains(log.String(), "running as root") {
		t.Errorf("no root warning in:\n%s", log.String())
	}
}

func parseListenConfig(t *testing.T, src string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a.toml")
	if err := os.WriteFile(path, []byte("authserv_id = \"mx.test\"\n"+src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The errors of listen name the socket path and the fix.
func TestListenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	busy := filepath.Join(dir, "busy.sock")
	ln, err := net.Listen("unix", busy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       []string
	}{
		{"in use", busy, []string{busy + " is in use by another process", "set listen to another path"}},
		{"not a socket", plain, []string{plain + " exists and is not a socket"}},
		{"no directory", filepath.Join(dir, "missing", "m.sock"),
			[]string{"cannot create socket " + filepath.Join(dir, "missing", "m.sock"), "directory " + filepath.Join(dir, "missing") + " does not exist", "RuntimeDirectory="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := listen(parseListenConfig(t, "listen = \"unix:"+tt.path+"\"\n"))
			if err == nil {
				t.Fatal("listen succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// socketListenError explains permission and missing-directory failures;
// root is never refused by directory permissions, so the permission case
// is checked on the error net.Listen returns rather than by a real listen.
func TestSocketListenError(t *testing.T) {
	t.Parallel()
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "listen", Net: "unix", Err: os.NewSyscallError("bind", errno)}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"permission", opErr(syscall.EACCES), "cannot create socket /run/x/m.sock: directory /run/x is not writable by uid " +
			strconv.Itoa(os.Geteuid()) + "; make it owned by the user authmilter runs as, or choose another listen path: listen unix: bind: permission denied"},
		{"missing", opErr(syscall.ENOENT), "cannot create socket /run/x/m.sock: directory /run/x does not exist; create it, owned by the user authmilter runs as (systemd: RuntimeDirectory=): listen unix: bind: no such file or directory"},
		{"other", opErr(syscall.EADDRINUSE), "cannot create socket /run/x/m.sock: listen unix: bind: address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := socketListenError("/run/x/m.sock", tt.err)
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Error("the cause is not wrapped")
			}
		})
	}
}

// listen gives the socket socket_group and socket_mode; the daemon's own
// group is one it may always chown to, root or not.
func TestSocketGroupApplied(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock := filepath.Join(dir, "g.sock")
	gid := strconv.Itoa(os.Getegid())
	ln, err := listen(parseListenConfig(t, "listen = \"unix:"+sock+"\"\nsocket_mode = \"0640\"\nsocket_group = \""+gid+"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if g := fi.Sys().(*syscall.Stat_t).Gid; strconv.Itoa(int(g)) != gid || fi.Mode().Perm() != 0o640 {
		t.Errorf("socket gid %d mode %v, want %s 0640", g, fi.Mode().Perm(), gid)
	}
}
