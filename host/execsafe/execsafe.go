// Package execsafe decides whether a program may be run as root: keepalived's
// enable_script_security (sdk.RootSafe, which the script plugin uses too),
// applied by hasidecar to everything it runs: notify scripts and plugin
// binaries.
package execsafe

import (
	"errors"
	"fmt"
	"os"

	"github.com/hasidecar/hasidecar/sdk"
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

func check(path string) error { return sdk.RootSafe(path) }

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
