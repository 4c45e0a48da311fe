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
	return n.startBGPD(t, frrTempDir(t), config, "")
}

// frrTempDir is a directory for one router's FRR files (configs, pid files,
// vty and zserv sockets), readable by vtysh.
func frrTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startBGPD runs bgpd with its files in dir; zserv is the zebra socket it
// talks to, or "" for none (--no_zebra).
func (n *Node) startBGPD(t testing.TB, dir, config, zserv string) *BGPD {
	t.Helper()
	conf := filepath.Join(dir, "bgpd.conf")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--skip_runas", "--config_file", conf, "--pid_file", filepath.Join(dir, "bgpd.pid"),
		"--vty_socket", dir, "--vty_port", "0", "--log", "stdout", "--log-level", "info"}
	if zserv == "" {
		args = append(args, "--no_zebra")
	} else {
		args = append(args, "--socket", zserv)
	}
	p := n.Start(t, filepath.Join(frrDir, "bgpd"), args...)
	waitVTY(t, p, dir, "bgpd")
	return &BGPD{Process: p, node: n, dir: dir}
}

// waitVTY waits until daemon (started as p) has opened its vty socket in dir,
// which it does once its configuration is read.
func waitVTY(t testing.TB, p *Process, dir, daemon string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, daemon+".vty")); err == nil {
			return
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("%s did not start:\n%s", daemon, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Show runs a vtysh command against this bgpd and returns its output.
func (b *BGPD) Show(t testing.TB, command string) string {
	t.Helper()
	out, err := vtysh(b.node, b.dir, "bgpd", command)
	if err != nil {
		t.Fatalf("vtysh %q: %v\n%s", command, err, out)
	}
	return out
}

// vtysh runs command against daemon, whose vty socket is in dir, in n's
// namespace.
func vtysh(n *Node, dir, daemon, command string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := n.Command(ctx, "vtysh", "--vty_socket", dir, "-d", daemon, "-c", command).CombinedOutput()
	return string(out), err
}

// startZebra runs zebra in n's namespace with its files in dir (made by
// frrUserDir) and returns it with the path of its socket. zebra has no
// --skip_runas and refuses root (not in group frrvty): it runs as Debian's
// frr user, keeping the capabilities it needs.
func startZebra(t testing.TB, n *Node, dir string) (*Process, string) {
	t.Helper()
	zconf := filepath.Join(dir, "zebra.conf")
	if err := os.WriteFile(zconf, []byte("frr defaults traditional\nhostname "+n.Name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	zserv := filepath.Join(dir, "zserv.api")
	zebra := n.Start(t, filepath.Join(frrDir, "zebra"),
		"--config_file", zconf, "--pid_file", filepath.Join(dir, "zebra.pid"),
		"--socket", zserv, "--vty_socket", dir, "--vty_port", "0", "--log", "stdout", "--log-level", "info")
	waitVTY(t, zebra, dir, "zebra")
	return zebra, zserv
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
