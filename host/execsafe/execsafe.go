// Package execsafe decides whether a program may be run as root: keepalived's
// enable_script_security, applied by hasidecar to everything it runs (notify
// scripts, plugin binaries; the script plugin has its own copy, since
// plugins build on sdk/ alone).
package execsafe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Check returns an error saying why path must not be run by a root
// process, or nil when it may, or when the caller is not root (a non-root
// daemon runs nothing with more rights than its user has). The file and
// every directory above it must be owned by root and not writable by group
// or others, except directories with the sticky bit (such as /tmp), where
// others cannot replace what root owns. Both the path as written and the
// path its symlinks lead to are checked.
func Check(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return check(path)
}

func check(path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s is not an absolute path", path)
	}
	if why := chain(filepath.Clean(path), os.Lstat); why != "" {
		return fmt.Errorf("refusing to run %s as root: %s", path, why)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	if why := chain(real, os.Stat); why != "" {
		return fmt.Errorf("refusing to run %s as root: %s", path, why)
	}
	return nil
}

// chain checks path and each directory above it with stat.
func chain(path string, stat func(string) (os.FileInfo, error)) string {
	for p := path; ; p = filepath.Dir(p) {
		st, err := stat(p)
		if err != nil {
			return err.Error()
		}
		if why := unsafeMode(p, st); why != "" {
			return why
		}
		if p == "/" {
			return ""
		}
	}
}

// unsafeMode says how a non-root user could change p, or "" when only root
// can. A symlink's own mode means nothing on Linux: only its owner counts.
func unsafeMode(p string, st os.FileInfo) string {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return "cannot read the owner of " + p
	}
	if sys.Uid != 0 {
		return fmt.Sprintf("%s is owned by uid %d, not root (fix: chown root %s)", p, sys.Uid, p)
	}
	if st.Mode()&os.ModeSymlink != 0 || (st.IsDir() && st.Mode()&os.ModeSticky != 0) {
		return ""
	}
	switch {
	case st.Mode()&0o002 != 0:
		return fmt.Sprintf("%s is writable by everyone (fix: chmod go-w %s)", p, p)
	case st.Mode()&0o020 != 0:
		return fmt.Sprintf("%s is writable by its group (gid %d) (fix: chmod g-w %s)", p, sys.Gid, p)
	}
	return ""
}

// Runnable says why the daemon could not run path as a notify script or a
// plugin: missing, not an executable file, or (as root) unsafe as Check
// says. nil: it would run.
func Runnable(path string) error {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", path, errors.Unwrap(err))
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case st.Mode()&0o111 == 0:
		return fmt.Errorf("%s is not executable (fix: chmod +x %s)", path, path)
	}
	return Check(path)
}
