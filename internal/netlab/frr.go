package netlab

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// frrDir is where Debian's frr package puts its daemons.
const frrDir = "/usr/lib/frr"

// RequireFRR skips (or, under CI=true, fails) a test when FRRouting's bgpd
// is not installed.
func RequireFRR(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	if _, err := os.Stat(filepath.Join(frrDir, "bgpd")); err != nil {
		missing(t, "FRRouting is not installed (Debian: apt-get install frr)")
	}
	if _, err := exec.LookPath("vtysh"); err != nil {
		missing(t, "FRRouting's vtysh is not installed (Debian: apt-get install frr)")
	}
}

// BGPD is FRRouting's bgpd running in a node's namespace with its own files.
type BGPD struct {
	*Process
	node *Node
	dir  string // config, pid file and vty socket
}

// StartBGPD runs bgpd in n's namespace with config (FRR syntax), without
// zebra (routes stay in bgpd's table, read with Show), as root with its own
// pid file and vty socket: nothing of Debian's frr service is touched.
func (n *Node) StartBGPD(t testing.TB, config string) *BGPD {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "bgpd.conf")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p := n.Start(t, filepath.Join(frrDir, "bgpd"),
		"--skip_runas", "--no_zebra", "--config_file", conf, "--pid_file", filepath.Join(dir, "bgpd.pid"),
		"--vty_socket", dir, "--vty_port", "0", "--log", "stdout", "--log-level", "info")
	b := &BGPD{Process: p, node: n, dir: dir}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "bgpd.vty")); err == nil {
			return b
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("bgpd did not start:\n%s", p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Show runs a vtysh command against this bgpd and returns its output.
func (b *BGPD) Show(t testing.TB, command string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := b.node.Command(ctx, "vtysh", "--vty_socket", b.dir, "-d", "bgpd", "-c", command).CombinedOutput()
	if err != nil {
		t.Fatalf("vtysh %q: %v\n%s", command, err, out)
	}
	return string(out)
}

// WaitShow polls command until its output contains want (or, with
// present = false, no longer does).
func (b *BGPD) WaitShow(t testing.TB, command, want string, present bool, timeout time.Duration) string {
	t.Helper()
	var out string
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		out = b.Show(t, command)
		if strings.Contains(out, want) == present {
			return out
		}
	}
	t.Fatalf("after %v, %q %s %q:\n%s\nbgpd log:\n%s", timeout, command, map[bool]string{true: "never showed", false: "still shows"}[present], want, out, b.Log())
	return out
}
