package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"go.uber.org/zap"

	"github.com/authmilter/authmilter/config"
)

// errPrivileges is the sentinel of every failure to switch user.
var errPrivileges = errors.New("authmilter: cannot drop privileges")

// dropPrivileges switches to the configured user and groups (config key
// user), after the milter socket is open and the keys are read, so that a
// flaw in message parsing cannot be used as root. The order is setgroups,
// setgid, setuid: once the user ID is not 0 the groups can no longer be
// changed. Since Go 1.16 these calls apply to every thread of the process
// on Linux (syscall.AllThreadsSyscall), so no goroutine keeps root.
//
// Without user, a daemon running as root logs a warning and keeps going:
// some sites run it in a container whose root is unprivileged.
func dropPrivileges(log *zap.Logger, cfg *config.Config) error {
	acct := cfg.RunAs()
	if acct == nil {
		if os.Geteuid() == 0 {
			log.Warn("running as root; set user (and group) in the configuration, or User= in the systemd unit")
		}
		return nil
	}
	if os.Getuid() == acct.UID && os.Geteuid() == acct.UID && os.Getgid() == acct.GID && os.Getegid() == acct.GID {
		return nil // already there, e.g. started by systemd with User=
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: user = %q needs authmilter started as root, but it runs as uid %d; start it as root or remove user",
			errPrivileges, acct.User, os.Geteuid())
	}
	groups := acct.Groups
	if len(groups) == 0 {
		groups = []int{acct.GID}
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("%w: setgroups %v: %w", errPrivileges, groups, err)
	}
	if err := syscall.Setgid(acct.GID); err != nil {
		return fmt.Errorf("%w: setgid %d (group %s): %w", errPrivileges, acct.GID, acct.Group, err)
	}
	if err := syscall.Setuid(acct.UID); err != nil {
		return fmt.Errorf("%w: setuid %d (user %s): %w", errPrivileges, acct.UID, acct.User, err)
	}
	// Belt and braces: a process that can become root again has not
	// dropped anything (acct.UID 0, or a kernel that ignored the call).
	if acct.UID != 0 {
		if err := syscall.Setuid(0); err == nil {
			return fmt.Errorf("%w: setuid(0) still succeeds after switching to %s", errPrivileges, acct.User)
		}
	}
	log.Info("dropped privileges", zap.String("user", acct.User), zap.Int("uid", acct.UID),
		zap.String("group", acct.Group), zap.Int("gid", acct.GID), zap.Ints("groups", groups))
	return nil
}

// setSocketGroup gives the unix socket at path the group socket_group, so
// the MTA's user can connect by group membership (with socket_mode 0660).
func setSocketGroup(path string, cfg *config.Config) error {
	gid, ok := cfg.SocketGID()
	if !ok {
		return nil
	}
	if err := os.Chown(path, -1, gid); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("socket_group: cannot give %s to group %s (gid %d): authmilter must run as root or be a member of that group: %w",
				path, cfg.SocketGroup, gid, err)
		}
		return fmt.Errorf("socket_group: %w", err)
	}
	return nil
}

// socketListenError explains why a unix socket could not be created, with
// the fix: the usual causes are a missing directory or one the daemon's
// user cannot write to.
func socketListenError(path string, err error) error {
	dir := filepath.Dir(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("cannot create socket %s: directory %s does not exist; create it, owned by the user authmilter runs as (systemd: RuntimeDirectory=): %w",
			path, dir, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("cannot create socket %s: directory %s is not writable by uid %s; make it owned by the user authmilter runs as, or choose another listen path: %w",
			path, dir, strconv.Itoa(os.Geteuid()), err)
	}
	return fmt.Errorf("cannot create socket %s: %w", path, err)
}
