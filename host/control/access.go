package control

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// access says who may do what on the socket. The file modes keep others
// from connecting at all; the peer's credentials (SO_PEERCRED) decide per
// command, so that a group member who can connect still cannot reload.
type access struct {
	owner int    // the daemon's effective uid: may do everything, as root
	gid   int    // the status group; -1 when none
	group string // its name, for messages
}

// groupListener is a control socket with its access rules.
type groupListener struct {
	net.Listener
	acc access
}

func accessOf(l net.Listener) access {
	if gl, ok := l.(*groupListener); ok {
		return gl.acc
	}
	return access{owner: os.Geteuid(), gid: -1}
}

// ListenGroup opens the socket at path, replacing a stale one left by a
// crash but refusing to take over a socket a live daemon still answers on.
// Without a group the socket is 0600 and only root (and the daemon's own
// user) may use it; with one, the socket is 0660 and its directory 0750,
// both owned by that group, whose members may read the status. Reload and
// maintenance stay root's.
func ListenGroup(path, group string) (net.Listener, error) {
	acc := access{owner: os.Geteuid(), gid: -1, group: group}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("control socket group %q: %w (create it with groupadd, or remove group from the control block)", group, err)
		}
		if acc.gid, err = strconv.Atoi(g.Gid); err != nil {
			return nil, fmt.Errorf("control socket group %q has gid %q", group, g.Gid)
		}
	}
	dir := filepath.Dir(path)
	_, statErr := os.Stat(dir)
	created := os.IsNotExist(statErr)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating control socket directory: %w", err)
	}
	// The directory is ours when we made it or when it is hasidecar's own
	// (/run/hasidecar, which systemd creates): a shared one such as /run or
	// /tmp keeps its modes.
	if created || filepath.Base(dir) == "hasidecar" {
		if err := setModes(dir, 0o750, acc.gid); err != nil {
			return nil, fmt.Errorf("control socket directory: %w", err)
		}
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s is in use: is another hasidecar running with this configuration?", path)
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on control socket %s: %w", path, err)
	}
	mode := os.FileMode(0o600)
	if acc.gid >= 0 {
		mode = 0o660
	}
	if err := setModes(path, mode, acc.gid); err != nil {
		l.Close()
		return nil, fmt.Errorf("restricting control socket: %w", err)
	}
	return &groupListener{Listener: l, acc: acc}, nil
}

// setModes chmods path and, for gid >= 0, gives it to that group.
func setModes(path string, mode os.FileMode, gid int) error {
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			return err
		}
	}
	return os.Chmod(path, mode)
}

// refuse returns why the peer on c may not run command, or "" if it may.
func (a access) refuse(c net.Conn, command string) string {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ""
	}
	cred, err := peerCred(uc)
	if err != nil {
		return "cannot read the caller's credentials: " + err.Error()
	}
	if cred.Uid == 0 || int(cred.Uid) == a.owner {
		return ""
	}
	allowed := "reload and maintenance are for root only"
	if a.gid >= 0 {
		allowed = fmt.Sprintf("status is for root and members of group %s; %s", a.group, allowed)
	} else {
		allowed = "status, reload and maintenance are for root only (set control { group = \"NAME\" } to let a group read status)"
	}
	if command == "status" && a.gid >= 0 && inGroup(cred, a.gid) {
		return ""
	}
	return fmt.Sprintf("permission denied: uid %d may not %s; %s", cred.Uid, command, allowed)
}

func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, credErr
}

// inGroup reports whether the peer process has gid as its primary or a
// supplementary group, as the kernel sees it now (/proc/PID/status), so a
// user added to the group must log in again, as for file access.
func inGroup(cred *unix.Ucred, gid int) bool {
	if int(cred.Gid) == gid {
		return true
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", cred.Pid))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		for _, g := range strings.Fields(rest) {
			if n, err := strconv.Atoi(g); err == nil && n == gid {
				return true
			}
		}
	}
	return false
}
