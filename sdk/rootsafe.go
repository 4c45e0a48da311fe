package sdk

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// RootSafe says why a program at path must not be run by a root process,
// or returns nil when it may: keepalived's enable_script_security. The file
// and every directory above it must be owned by root and not writable by
// group or others, except directories with the sticky bit (such as /tmp),
// where others cannot replace what root owns. Both the path as written and
// the path its symlinks lead to are checked: a symlink in a directory a user
// can write is as easy to swap as the script itself. A plugin that runs
// programs as root (as the built-in script plugin does) calls it before
// each run; the daemon applies it to notify scripts and plugin binaries.
func RootSafe(path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s is not an absolute path", path)
	}
	if why := unsafeChain(filepath.Clean(path), os.Lstat); why != "" {
		return fmt.Errorf("refusing to run %s as root: %s", path, why)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	if why := unsafeChain(real, os.Stat); why != "" {
		return fmt.Errorf("refusing to run %s as root: %s", path, why)
	}
	return nil
}

// unsafeChain checks path and each directory above it with stat.
func unsafeChain(path string, stat func(string) (os.FileInfo, error)) string {
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
		return fmt.Sprintf("%s is writable by its group (gid %d) (fix: chmod go-w %s)", p, sys.Gid, p)
	}
	return ""
}
