// Package e2e runs real hasidecar processes, and keepalived as their peer, in
// private network namespaces built by internal/netlab. Every test builds its
// own lab and tears it down, also on failure.
package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/host/control"
	"github.com/hasidecar/hasidecar/host/status"
	"github.com/hasidecar/hasidecar/internal/netlab"
)

// binary is the hasidecar built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hasidecar-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hasidecar")
	if other := os.Getenv("HASIDECAR_E2E_BINDIR"); other != "" {
		// Another build's hasidecar and plugins, to measure it with
		// today's tests (make bench's comparisons with an earlier round).
		binary = filepath.Join(other, "hasidecar")
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	// As `make build` builds it: static, so that measurements match; the
	// built-in plugins are links to it next to it (plugin_dir's default).
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", binary, "github.com/hasidecar/hasidecar/cmd/hasidecar")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building hasidecar:", err)
		os.Exit(1)
	}
	for _, p := range pluginNames {
		if err := os.Symlink("hasidecar", filepath.Join(dir, "hasidecar-plugin-"+p)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pluginNames are the built-in plugins, built beside the binary.
var pluginNames = []string{"icmp", "tcp", "httpget", "script"}

// vip is the virtual address every test moves around.
var vip = netip.MustParsePrefix("198.51.100.100/24")

// nodeConfig is one hasidecar node's vrrp_instance, rendered as HCL.
type nodeConfig struct {
	Priority       int
	Version        int
	AdvertInterval time.Duration
	Preempt        bool
	AuthPass       string
	Unicast        bool // unicast_source = own address, peers = the other nodes
	VRID           int
	Tracks         []string // track_interface names
	// Checks is raw HCL placed at the top level (check blocks, more
	// instances); InstanceExtra raw HCL inside the vrrp_instance
	// (track_check blocks).
	Checks, InstanceExtra string
	// VIPs replaces the default single virtual address.
	VIPs []netip.Prefix
}

func (c nodeConfig) withDefaults() nodeConfig {
	if c.Version == 0 {
		c.Version = 3
	}
	if c.AdvertInterval == 0 {
		c.AdvertInterval = 100 * time.Millisecond
	}
	if c.VRID == 0 {
		c.VRID = 51
	}
	return c
}

// daemon is a hasidecar process in a lab node.
type daemon struct {
	node   *netlab.Node
	proc   *netlab.Process
	config string
	socket string
}

func quoteAddrs(as []netip.Addr) string {
	q := make([]string, len(as))
	for i, a := range as {
		q[i] = fmt.Sprintf("%q", a.String())
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// startHasidecar writes n's configuration and runs hasidecar in n's namespace.
func startHasidecar(t *testing.T, lab *netlab.Lab, n *netlab.Node, c nodeConfig) *daemon {
	t.Helper()
	dir := t.TempDir()
	d := &daemon{node: n, config: filepath.Join(dir, "hasidecar.hcl"), socket: filepath.Join(dir, "hasidecar.sock")}
	d.write(t, lab, c)
	d.proc = n.Start(t, binary, "run", "--config", d.config)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hasidecar log of %s:\n%s", n.Name, d.proc.Log())
		}
	})
	return d
}

// write renders c as d's configuration file.
func (d *daemon) write(t *testing.T, lab *netlab.Lab, c nodeConfig) {
	t.Helper()
	c = c.withDefaults()
	n := d.node
	var b strings.Builder
	fmt.Fprintf(&b, "node_name = %q\nlog_level = \"debug\"\nlog_format = \"console\"\n", n.Name)
	fmt.Fprintf(&b, "control { socket = %q }\n", d.socket)
	fmt.Fprintf(&b, "vrrp_instance \"VI_1\" {\n  interface = %q\n  virtual_router_id = %d\n  priority = %d\n", n.Iface, c.VRID, c.Priority)
	fmt.Fprintf(&b, "  version = %d\n  advert_interval = %q\n  preempt = %v\n", c.Version, c.AdvertInterval.String(), c.Preempt)
	vips := c.VIPs
	if len(vips) == 0 {
		vips = []netip.Prefix{vip}
	}
	q := make([]string, len(vips))
	for i, v := range vips {
		q[i] = strconv.Quote(v.String())
	}
	fmt.Fprintf(&b, "  virtual_ips = [%s]\n", strings.Join(q, ", "))
	if c.Unicast {
		var peers []netip.Addr
		for _, o := range lab.Nodes {
			if o != n {
				peers = append(peers, nodeAddr(o, vips[0]))
			}
		}
		fmt.Fprintf(&b, "  unicast_source = %q\n  unicast_peers = %s\n", nodeAddr(n, vips[0]).String(), quoteAddrs(peers))
	}
	if c.AuthPass != "" {
		fmt.Fprintf(&b, "  auth_pass = %q\n", c.AuthPass)
	}
	for _, name := range c.Tracks {
		fmt.Fprintf(&b, "  track_interface %q {}\n", name)
	}
	b.WriteString(c.InstanceExtra)
	b.WriteString("}\n")
	b.WriteString(c.Checks)
	if err := os.WriteFile(d.config, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// keepalivedPeer runs keepalived in n with the settings of c, so that a
// mixed pair is configured alike on both sides.
func keepalivedPeer(t *testing.T, lab *netlab.Lab, n *netlab.Node, c nodeConfig) *netlab.Process {
	t.Helper()
	netlab.RequireKeepalived(t)
	c = c.withDefaults()
	kc := netlab.KeepalivedConfig{
		Iface:          n.Iface,
		State:          "BACKUP",
		VRID:           c.VRID,
		Priority:       c.Priority,
		Version:        c.Version,
		AdvertInterval: c.AdvertInterval,
		Preempt:        c.Preempt,
		VIPs:           []netip.Prefix{vip},
		AuthPass:       c.AuthPass,
	}
	if len(c.VIPs) > 0 {
		kc.VIPs = c.VIPs
	}
	if c.Unicast {
		kc.UnicastSource = nodeAddr(n, kc.VIPs[0])
		for _, o := range lab.Nodes {
			if o != n {
				kc.UnicastPeers = append(kc.UnicastPeers, nodeAddr(o, kc.VIPs[0]))
			}
		}
	}
	p := n.StartKeepalived(t, kc)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keepalived log of %s:\n%s", n.Name, p.Log())
		}
	})
	return p
}

// status asks a running daemon for its status over the control socket.
func (d *daemon) status(t *testing.T) status.Status {
	t.Helper()
	st, _, err := timedStatus(d, 2*time.Second)
	if err != nil {
		t.Fatalf("status of %s: %v", d.node.Name, err)
	}
	return st
}

// vipHolders is holders without t.Fatal, for sampling loops that must keep
// their own account of errors.
func vipHolders(lab *netlab.Lab) ([]*netlab.Node, error) {
	var out []*netlab.Node
	for _, n := range lab.Nodes {
		ps, err := n.Addresses()
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if p.Addr() == vip.Addr() {
				out = append(out, n)
				break
			}
		}
	}
	return out, nil
}

// timedStatus asks d for its status and says how long the answer took; a
// daemon that does not answer within timeout is an error, not a hang.
func timedStatus(d *daemon, timeout time.Duration) (status.Status, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	resp, err := control.Call(ctx, d.socket, control.Request{Command: "status"})
	took := time.Since(start)
	if err != nil {
		return status.Status{}, took, err
	}
	if !resp.OK || resp.Status == nil {
		return status.Status{}, took, fmt.Errorf("status refused: %+v", resp)
	}
	return *resp.Status, took, nil
}

// holders lists the nodes that have the VIP on their interface.
func holders(t *testing.T, lab *netlab.Lab) []*netlab.Node {
	t.Helper()
	out, err := vipHolders(lab)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitSoleHolder waits until want, and only want, has the VIP, and returns
// how long that took.
func waitSoleHolder(t *testing.T, lab *netlab.Lab, want *netlab.Node, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last []*netlab.Node
	for time.Since(start) < timeout {
		last = holders(t, lab)
		if len(last) == 1 && last[0] == want {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("after %v the VIP is on %v, want only on %s", timeout, names(last), want.Name)
	return 0
}

// holdsSteady checks for d that the VIP stays on want alone.
func holdsSteady(t *testing.T, lab *netlab.Lab, want *netlab.Node, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if h := holders(t, lab); len(h) != 1 || h[0] != want {
			t.Fatalf("VIP on %v, want it to stay on %s alone", names(h), want.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func names(ns []*netlab.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}

// keepalivedScriptPeer runs keepalived tracking a vrrp_script as keepalived
// users track nginx: the script every second, weight -60, fall 1, rise 1.
func keepalivedScriptPeer(t *testing.T, lab *netlab.Lab, n *netlab.Node, c nodeConfig, script string) *netlab.Process {
	t.Helper()
	netlab.RequireKeepalived(t)
	c = c.withDefaults()
	kc := netlab.KeepalivedConfig{
		Iface: n.Iface, State: "BACKUP", VRID: c.VRID, Priority: c.Priority, Version: c.Version,
		AdvertInterval: c.AdvertInterval, Preempt: c.Preempt, VIPs: []netip.Prefix{vip},
		GlobalExtra: []string{"script_user root", "enable_script_security"},
		TopLevel: []string{
			"vrrp_script chk {",
			fmt.Sprintf("    script %q", script),
			"    interval 1", "    timeout 1", "    fall 1", "    rise 1", "    weight -60",
			"}",
		},
		InstanceExtra: []string{"track_script {", "    chk", "}"},
	}
	p := n.StartKeepalived(t, kc)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keepalived log of %s:\n%s", n.Name, p.Log())
		}
	})
	return p
}

// listenAndClose listens on a loopback port inside node's namespace and
// closes every connection it accepts: a healthy service for tcp checks that
// costs the daemons nothing. It returns the listener's address.
func listenAndClose(t *testing.T, node *netlab.Node) string {
	t.Helper()
	var l net.Listener
	if err := node.Do(func() (err error) {
		l, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

// procStat returns the fields of /proc/PID/stat after the command name
// (state first, so stat(5)'s field n is index n-3); ok is false when the
// process no longer exists.
func procStat(pid int) (fields []string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	f := strings.Fields(s[i+1:])
	return f, len(f) >= 20 && len(f[0]) == 1
}

// procState returns the state and start time (clock ticks since boot) of
// pid; ok is false when the process no longer exists. The start time tells a
// process from a later one that reuses its pid.
func procState(pid int) (state byte, start uint64, ok bool) {
	f, ok := procStat(pid)
	if !ok {
		return 0, 0, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], start, true
}

// cpuTicks is a process's user+system CPU time in clock ticks.
func cpuTicks(pid int) int64 {
	f, ok := procStat(pid)
	if !ok {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}
