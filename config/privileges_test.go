package config

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

func TestParsePrivileges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                     string
		src                      string
		user, group, socketGroup string
	}{
		{"unset", ``, "", "", ""},
		{"names", "user = \"authmilter\"\ngroup = \"mail\"\n", "authmilter", "mail", ""},
		{"numeric", "user = \"65532\"\ngroup = \"65532\"\n", "65532", "65532", ""},
		{"socket group", "listen = \"unix:/run/a.sock\"\nsocket_group = \"postfix\"\n", "", "", "postfix"},
		{"dots dashes underscores", "user = \"_auth.milter-1\"\n", "_auth.milter-1", "", ""},
		{"machine account", "user = \"host$\"\n", "host$", "", ""},
		{"empty socket group with inet", "socket_group = \"\"\n", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseTest(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if c.User != tt.user || c.Group != tt.group || c.SocketGroup != tt.socketGroup {
				t.Errorf("user %q group %q socket_group %q", c.User, c.Group, c.SocketGroup)
			}
			// Parse does not look names up.
			if c.RunAs() != nil {
				t.Errorf("Parse resolved RunAs = %+v", c.RunAs())
			}
			if _, ok := c.SocketGID(); ok {
				t.Error("Parse resolved SocketGID")
			}
		})
	}
}

func TestParsePrivilegesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want string
		kind error
	}{
		{"group without user", "\ngroup = \"mail\"\n",
			`t.toml:2: group: only applies together with user; set user too, or remove group`, ErrValue},
		{"socket group with inet", "listen = \"inet:127.0.0.1:8891\"\nsocket_group = \"postfix\"\n",
			`t.toml:2: socket_group: only applies to unix: listen addresses, but listen is "inet:127.0.0.1:8891"`, ErrValue},
		{"space in name", `user = "auth milter"`,
			`t.toml:1: user: "auth milter" is not a user or group name (letters, digits, '.', '_' and '-')`, ErrValue},
		{"leading dash", `group = "-g"`,
			`t.toml:1: group: "-g" starts with '-'`, ErrValue},
		{"dollar inside", `user = "a$b"`,
			`t.toml:1: user: "a$b" is not a user or group name (letters, digits, '.', '_' and '-')`, ErrValue},
		{"too long", `user = "abcdefghijabcdefghijabcdefghijabc"`,
			`t.toml:1: user: "abcdefghijabcdefghijabcdefghijabc" is longer than 32 bytes`, ErrValue},
		{"ID out of range", `user = "4294967295"`,
			`t.toml:1: user: numeric ID 4294967295 is out of range 0..2147483647`, ErrValue},
		{"not a string", `user = 0`,
			`t.toml:1: user: expected a string, got integer 0`, ErrType},
		{"path injection", `socket_group = "../etc"`,
			`t.toml:1: socket_group: "../etc" is not a user or group name (letters, digits, '.', '_' and '-')`, ErrValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseTest(tt.src)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want Errors", err)
			}
			if errs.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", errs.Error(), tt.want)
			}
			if !errors.Is(errs[0], tt.kind) {
				t.Errorf("errors.Is(%v, %v) = false", errs[0], tt.kind)
			}
		})
	}
}

// Load looks the names up; root (uid 0, group root) exists on every Linux
// system, and "nosuch-authmilter" on none.
func TestLoadPrivileges(t *testing.T) {
	t.Parallel()
	root, err := user.Lookup("root")
	if err != nil {
		t.Skipf("no root user in the user database: %v", err)
	}
	rootGroup, err := user.LookupGroupId(root.Gid)
	if err != nil {
		t.Skipf("no group %s: %v", root.Gid, err)
	}
	var wantGroups []int
	if ids, err := root.GroupIds(); err == nil {
		for _, s := range ids {
			n, _ := strconv.Atoi(s)
			wantGroups = append(wantGroups, n)
		}
	}
	const base = "authserv_id = \"mx.example.com\"\nlisten = \"unix:/run/a.sock\"\n"
	tests := []struct {
		name      string
		src       string
		runAs     *Account
		socketGID int // -1: not set
		err       string
	}{
		{"nothing set", base, nil, -1, ""},
		{"user by name, primary group", base + "user = \"root\"\n",
			&Account{User: "root", Group: rootGroup.Name, UID: 0, GID: 0, Groups: wantGroups}, -1, ""},
		{"user and group", base + "user = \"root\"\ngroup = \"" + rootGroup.Name + "\"\n",
			&Account{User: "root", Group: rootGroup.Name, UID: 0, GID: 0, Groups: wantGroups}, -1, ""},
		{"numeric user without entry and numeric group", base + "user = \"2147483000\"\ngroup = \"2147483001\"\n",
			&Account{User: "2147483000", Group: "2147483001", UID: 2147483000, GID: 2147483001}, -1, ""},
		{"socket group", base + "socket_group = \"" + rootGroup.Name + "\"\n", nil, 0, ""},
		{"numeric socket group", base + "socket_group = \"4242\"\n", nil, 4242, ""},
		{"unknown user", base + "\nuser = \"nosuch-authmilter\"\n", nil, -1,
			`:4: user: no user "nosuch-authmilter" on this system; create it (useradd --system nosuch-authmilter) or name an existing one`},
		{"unknown group", base + "user = \"root\"\ngroup = \"nosuch-authmilter\"\n", nil, -1,
			`:4: group: no group "nosuch-authmilter" on this system; create it (groupadd --system nosuch-authmilter) or name an existing one`},
		{"unknown socket group", base + "socket_group = \"nosuch-authmilter\"\n", nil, -1,
			`:3: socket_group: no group "nosuch-authmilter" on this system; create it (groupadd --system nosuch-authmilter) or name an existing one`},
		{"numeric user without entry needs group", base + "user = \"2147483000\"\n", nil, -1,
			`:3: user: numeric user 2147483000 has no passwd entry, so no primary group; set group too`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "a.toml")
			if err := os.WriteFile(path, []byte(tt.src), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if tt.err != "" {
				if err == nil || err.Error() != path+tt.err {
					t.Fatalf("err = %v\nwant %s", err, path+tt.err)
				}
				if !errors.Is(err, ErrValue) {
					t.Errorf("errors.Is(err, ErrValue) = false")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := c.RunAs()
			if !reflect.DeepEqual(got, tt.runAs) {
				t.Errorf("RunAs = %+v, want %+v", got, tt.runAs)
			}
			gid, ok := c.SocketGID()
			if (tt.socketGID >= 0) != ok || (ok && gid != tt.socketGID) {
				t.Errorf("SocketGID = %d, %v; want %d", gid, ok, tt.socketGID)
			}
		})
	}
}

// A missing key file and a missing user are reported together, so one
// `config check` run shows both.
func TestLoadPrivilegesWithKeyErrors(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a.toml")
	src := "authserv_id = \"mx.example.com\"\nuser = \"nosuch-authmilter\"\n" +
		"[[signing.key]]\nname = \"k\"\ndomain = \"example.com\"\nselector = \"s\"\nprivate_key = \"/nonexistent/k.pem\"\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("err = %v, want two errors", err)
	}
	if errs[1].Line != 2 || errs[0].Line < 3 {
		t.Errorf("lines %d and %d, want the key's then user's (2):\n%v", errs[0].Line, errs[1].Line, err)
	}
}
