package netlab

import (
	"os"
	"path/filepath"
	"testing"
)

// StartKeepalivedFile runs keepalived, VRRP only, in n's namespace with conf
// as its keepalived.conf (written to a private directory with its pid
// files), for tests that bring their own file. configID is keepalived's -i
// (which @ID lines apply); "" leaves keepalived's default.
func (n *Node) StartKeepalivedFile(t testing.TB, conf, configID string) *Process {
	t.Helper()
	RequireKeepalived(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatalf("%s: writing keepalived config: %v", n.Name, err)
	}
	args := []string{"--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp",
		"--use-file", path,
		"--pid", filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid", filepath.Join(dir, "vrrp.pid"),
		"--checkers_pid", filepath.Join(dir, "check.pid"),
		"--bfd_pid", filepath.Join(dir, "bfd.pid"),
	}
	if configID != "" {
		args = append(args, "--config-id", configID)
	}
	return n.Start(t, "keepalived", args...)
}
