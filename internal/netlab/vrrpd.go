package netlab

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RequireVRRPD skips (or, under CI=true, fails) a test when FRRouting's
// vrrpd is not installed.
func RequireVRRPD(t testing.TB) {
	t.Helper()
	RequireFRR(t)
	if _, err := os.Stat(filepath.Join(frrDir, "vrrpd")); err != nil {
		missing(t, "FRRouting's vrrpd is not installed (Debian: apt-get install frr)")
	}
}

// VRRPD is FRRouting's vrrpd with its zebra in a node's namespace, each with
// its own files: a second VRRP implementation to pair with.
type VRRPD struct {
	*Process
	// Zebra is the node's zebra: vrrpd learns interfaces from it and asks
	// it to bring a backup's macvlan down (protodown).
	Zebra *Process
	node  *Node
	dir   string
}

// StartVRRPD runs zebra and vrrpd in n's namespace with config (vrrpd's FRR
// configuration, e.g. "interface eth0\n vrrp 51 version 3\n …"). FRR's
// vrrpd sends and answers from a macvlan per virtual router that carries
// the virtual MAC and the virtual addresses, which the caller makes first
// (AddVRRPMacvlan): vrrpd finds it by its MAC.
func (n *Node) StartVRRPD(t testing.TB, config string) *VRRPD {
	t.Helper()
	RequireVRRPD(t)
	dir := frrUserDir(t)
	zebra, zserv := startZebra(t, n, dir)

	conf := filepath.Join(dir, "vrrpd.conf")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p := n.Start(t, filepath.Join(frrDir, "vrrpd"),
		"--config_file", conf, "--pid_file", filepath.Join(dir, "vrrpd.pid"),
		"--socket", zserv, "--vty_socket", dir, "--vty_port", "0", "--log", "stdout", "--log-level", "debug")
	waitVTY(t, p, dir, "vrrpd")
	v := &VRRPD{Process: p, Zebra: zebra, node: n, dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vrrpd log of %s:\n%s\nzebra log:\n%s", n.Name, p.Log(), zebra.Log())
		}
	})
	return v
}

// AddVRRPMacvlan makes the macvlan FRR's vrrpd needs for an IPv4 virtual
// router: on n's interface, with the RFC's virtual MAC for vrid and
// the virtual address, up.
func (n *Node) AddVRRPMacvlan(t testing.TB, vrid int, vip netip.Prefix) {
	t.Helper()
	name := fmt.Sprintf("vrrp4-%d", vrid)
	n.Run(t, "ip", "link", "add", name, "link", n.Iface, "type", "macvlan", "mode", "bridge")
	n.Run(t, "ip", "link", "set", "dev", name, "address", fmt.Sprintf("00:00:5e:00:01:%02x", vrid))
	n.Run(t, "ip", "addr", "add", vip.String(), "dev", name)
	n.Run(t, "ip", "link", "set", "dev", name, "up")
}

// Show runs a vtysh command against this vrrpd and returns its output.
func (v *VRRPD) Show(t testing.TB, command string) string {
	t.Helper()
	out, err := vtysh(v.node, v.dir, "vrrpd", command)
	if err != nil {
		t.Fatalf("vtysh %q: %v\n%s", command, err, out)
	}
	return out
}

// State is the IPv4 state of virtual router vrid as vrrpd reports it
// ("Master", "Backup", "Initialize").
func (v *VRRPD) State(t testing.TB, vrid int) string {
	t.Helper()
	out := v.Show(t, fmt.Sprintf("show vrrp %d json", vrid))
	var routers []struct {
		V4 struct {
			Status string `json:"status"`
		} `json:"v4"`
	}
	if err := json.Unmarshal([]byte(out), &routers); err != nil || len(routers) != 1 {
		t.Fatalf("show vrrp %d json: %v\n%s", vrid, err, out)
	}
	return strings.TrimSpace(routers[0].V4.Status)
}
