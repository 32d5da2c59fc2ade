package config

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// Account is the user and groups the daemon switches to after opening its
// socket (Config.User and Config.Group), resolved by Load.
type Account struct {
	// User and Group are the names (or numeric IDs) as written in the
	// file; Group is the user's primary group's name when the file did
	// not set group.
	User, Group string
	// UID and GID are the numeric IDs to switch to.
	UID, GID int
	// Groups are the supplementary groups: the user's memberships in the
	// group database, as initgroups(3) would set them, so that a key file
	// readable by a shared group (opendkim, say) stays readable.
	Groups []int
}

// maxAccountName bounds user and group names: useradd on Linux allows 32
// bytes.
const maxAccountName = 32

// maxID is the largest numeric user or group ID accepted. (uid_t)-1 is
// "no change" to chown(2) and setreuid(2), so IDs at or above 2^31 are
// refused as certainly mistaken.
const maxID = 1<<31 - 1

// checkAccountName accepts "" (not set), a decimal ID, or a name in the
// portable form useradd(8) and groupadd(8) accept: letters, digits, '.',
// '_' and '-', not starting with '-', and a trailing '$' (Samba machine
// accounts). Whether the name exists is checked by Load, not Parse: Parse
// checks what the file says, Load whether this host can run it.
func checkAccountName(s string) error {
	if s == "" {
		return nil
	}
	if isDecimal(s) {
		if n, err := strconv.Atoi(s); err != nil || n > maxID {
			return fmt.Errorf("numeric ID %s is out of range 0..%d", s, maxID)
		}
		return nil
	}
	if len(s) > maxAccountName {
		return fmt.Errorf("%q is longer than %d bytes", s, maxAccountName)
	}
	if s[0] == '-' {
		return fmt.Errorf("%q starts with '-'", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		case c == '$' && i == len(s)-1 && i > 0:
		default:
			return fmt.Errorf("%q is not a user or group name (letters, digits, '.', '_' and '-')", s)
		}
	}
	return nil
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkPrivileges holds the cross-key rules of user, group and
// socket_group, and records their lines for lookupAccounts.
func checkPrivileges(d *decoder, c *Config) {
	c.accountLines = accountLines{user: d.line("user"), group: d.line("group"), socketGroup: d.line("socket_group")}
	// Changing only the group while staying root gains nothing: root can
	// change it back, and can read everything anyway.
	if c.Group != "" && c.User == "" {
		d.add(d.line("group"), ErrValue, "group: only applies together with user; set user too, or remove group")
	}
	if line, ok := d.lines["socket_group"]; ok && c.SocketGroup != "" {
		if network, _, err := parseListen(c.Listen); err == nil && network != "unix" {
			d.add(line, ErrValue, "socket_group: only applies to unix: listen addresses, but listen is %q", c.Listen)
		}
	}
}

// accountLines are the lines of user, group and socket_group (0 if not in
// the file). An array-like struct rather than a map, so that two Configs
// from the same file stay reflect.DeepEqual-comparable in tests.
type accountLines struct{ user, group, socketGroup int }

func (l accountLines) of(key string) int {
	switch key {
	case "user":
		return l.user
	case "group":
		return l.group
	}
	return l.socketGroup
}

// RunAs returns the account the daemon switches to, or nil if user is not
// set. It is nil too for a Config from Parse or Default: only Load looks the
// names up.
func (c *Config) RunAs() *Account {
	return c.runAs
}

// SocketGID returns the group ID the unix socket is given, and false if
// socket_group is not set (or the Config did not come from Load).
func (c *Config) SocketGID() (int, bool) {
	if c.socketGID == nil {
		return 0, false
	}
	return *c.socketGID, true
}

// lookupAccounts resolves user, group and socket_group in the user and
// group databases (/etc/passwd and /etc/group, or NSS with cgo). A name
// that does not exist is an error at the key's line: the daemon would
// otherwise fail only after it had opened its socket. A numeric ID needs no
// entry (containers often have none), except that a numeric user without
// an entry has no primary group, so group must then be set.
func (c *Config) lookupAccounts() Errors {
	var errs Errors
	fail := func(key string, format string, args ...any) {
		errs = append(errs, &Error{File: c.Source, Line: c.accountLines.of(key),
			Msg: key + ": " + fmt.Sprintf(format, args...), Err: ErrValue})
	}
	if c.SocketGroup != "" {
		if gid, err := lookupGroup(c.SocketGroup); err != nil {
			fail("socket_group", "%v", err)
		} else {
			c.socketGID = &gid
		}
	}
	if c.User == "" {
		return errs
	}
	acct := &Account{User: c.User, Group: c.Group, UID: -1, GID: -1}
	var u *user.User
	var err error
	if isDecimal(c.User) {
		acct.UID, _ = strconv.Atoi(c.User)
		u, err = user.LookupId(c.User)
		var unknown user.UnknownUserIdError
		if errors.As(err, &unknown) {
			u, err = nil, nil
		}
	} else {
		u, err = user.Lookup(c.User)
	}
	if err != nil {
		fail("user", "%v", accountError(err, "user", c.User))
		return errs
	}
	if u != nil {
		acct.UID, _ = strconv.Atoi(u.Uid)
		acct.GID, _ = strconv.Atoi(u.Gid)
		if ids, err := u.GroupIds(); err == nil {
			for _, s := range ids {
				if g, err := strconv.Atoi(s); err == nil {
					acct.Groups = append(acct.Groups, g)
				}
			}
		}
		if acct.Group == "" {
			acct.Group = u.Gid
			if g, err := user.LookupGroupId(u.Gid); err == nil {
				acct.Group = g.Name
			}
		}
	}
	if c.Group != "" {
		gid, err := lookupGroup(c.Group)
		if err != nil {
			fail("group", "%v", err)
			return errs
		}
		acct.GID = gid
	}
	if acct.GID < 0 {
		fail("user", "numeric user %s has no passwd entry, so no primary group; set group too", c.User)
		return errs
	}
	c.runAs = acct
	return errs
}

// lookupGroup returns the ID of a group name, or of a numeric ID as is.
func lookupGroup(name string) (int, error) {
	if isDecimal(name) {
		return strconv.Atoi(name)
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, accountError(err, "group", name)
	}
	return strconv.Atoi(g.Gid)
}

// accountError rewords os/user's errors for an administrator.
func accountError(err error, kind, name string) error {
	var uu user.UnknownUserError
	var ug user.UnknownGroupError
	if errors.As(err, &uu) || errors.As(err, &ug) {
		return fmt.Errorf("no %s %q on this system; create it (%sadd --system %s) or name an existing one", kind, name, kind, name)
	}
	return fmt.Errorf("cannot look up %s %q: %v", kind, name, err)
}
