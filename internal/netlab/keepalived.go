package netlab

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// KeepalivedConfig describes one keepalived VRRP instance, the interop
// reference peer of the lab. Zero values fall back to keepalived's defaults
// except where a field says otherwise.
type KeepalivedConfig struct {
	// RouterID is global_defs router_id; StartKeepalived defaults it to the
	// node's namespace name.
	RouterID string
	// Instance is the vrrp_instance name; default "VI_1".
	Instance string
	// Iface is the instance's interface; default "eth0".
	Iface string
	// State is the initial state, "BACKUP" (default) or "MASTER". keepalived
	// makes a MASTER without Priority the address owner (priority 255).
	State string
	// VRID is virtual_router_id (1..255); Priority 0 means keepalived's 100.
	VRID, Priority int
	// Version is the VRRP version, 2 or 3; 0 leaves keepalived's default (2).
	Version int
	// AdvertInterval is advert_int; 0 leaves keepalived's default (1s).
	// Version 3 keeps fractions of a second (0.1); version 2 has whole
	// seconds on the wire, so it is rounded up to at least 1s.
	AdvertInterval time.Duration
	// Preempt false renders nopreempt, which keepalived honours only with
	// State BACKUP.
	Preempt bool
	// VIPs are the virtual addresses, configured on Iface.
	VIPs []netip.Prefix
	// UnicastSource and UnicastPeers switch the instance to unicast when
	// UnicastPeers is not empty.
	UnicastSource netip.Addr
	UnicastPeers  []netip.Addr
	// AuthPass, when set, adds simple password authentication (VRRPv2 PASS;
	// keepalived uses only the first 8 characters).
	AuthPass string
	// GlobalExtra and InstanceExtra are raw lines appended to global_defs and
	// to the vrrp_instance, for what the fields above do not cover.
	GlobalExtra, InstanceExtra []string
	// TopLevel are raw lines placed between global_defs and the instance,
	// for blocks such as vrrp_script.
	TopLevel []string
}

// Render returns the keepalived.conf text for c: global_defs (router_id,
// vrrp_version, no vrrp_strict) and one vrrp_instance.
func (c KeepalivedConfig) Render() string {
	var b strings.Builder
	line := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("    ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}

	line(0, "global_defs {")
	if c.RouterID != "" {
		line(1, "router_id %s", c.RouterID)
	}
	if c.Version != 0 {
		line(1, "vrrp_version %d", c.Version)
	}
	// vrrp_strict is left out on purpose: it forbids unicast and
	// authentication and installs firewall rules, none of which a lab wants.
	for _, l := range c.GlobalExtra {
		line(1, "%s", l)
	}
	line(0, "}")
	for _, l := range c.TopLevel {
		line(0, "%s", l)
	}

	instance := c.Instance
	if instance == "" {
		instance = "VI_1"
	}
	state := c.State
	if state == "" {
		state = "BACKUP"
	}
	iface := c.Iface
	if iface == "" {
		iface = nodeIface
	}
	line(0, "vrrp_instance %s {", instance)
	line(1, "state %s", state)
	line(1, "interface %s", iface)
	line(1, "virtual_router_id %d", c.VRID)
	if c.Priority != 0 {
		line(1, "priority %d", c.Priority)
	}
	if c.Version != 0 {
		line(1, "version %d", c.Version)
	}
	if c.AdvertInterval > 0 {
		line(1, "advert_int %s", advertInt(c.AdvertInterval, c.Version))
	}
	if !c.Preempt {
		line(1, "nopreempt")
	}
	if len(c.UnicastPeers) > 0 {
		if c.UnicastSource.IsValid() {
			line(1, "unicast_src_ip %s", c.UnicastSource)
		}
		line(1, "unicast_peer {")
		for _, p := range c.UnicastPeers {
			line(2, "%s", p)
		}
		line(1, "}")
	}
	if c.AuthPass != "" {
		line(1, "authentication {")
		line(2, "auth_type PASS")
		line(2, "auth_pass %s", c.AuthPass)
		line(1, "}")
	}
	line(1, "virtual_ipaddress {")
	for _, v := range c.VIPs {
		line(2, "%s dev %s", v, iface)
	}
	line(1, "}")
	for _, l := range c.InstanceExtra {
		line(1, "%s", l)
	}
	line(0, "}")
	return b.String()
}

// advertInt formats an advertisement interval in keepalived's seconds:
// centisecond precision for VRRPv3, whole seconds (at least one) for v2.
func advertInt(d time.Duration, version int) string {
	if version == 3 {
		cs := math.Round(d.Seconds() * 100)
		if cs < 1 {
			cs = 1
		}
		return strconv.FormatFloat(cs/100, 'f', -1, 64)
	}
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// keepalivedFiles are the per-instance files of one keepalived, all in the
// test's temporary directory so that several can run at once and none
// touches /etc/keepalived or /run.
type keepalivedFiles struct {
	conf, pid, vrrpPid, checkPid, bfdPid string
}

func writeKeepalivedFiles(dir string, c KeepalivedConfig) (keepalivedFiles, error) {
	base, err := os.MkdirTemp(dir, "keepalived-")
	if err != nil {
		return keepalivedFiles{}, fmt.Errorf("creating keepalived directory: %w", err)
	}
	f := keepalivedFiles{
		conf:     filepath.Join(base, "keepalived.conf"),
		pid:      filepath.Join(base, "keepalived.pid"),
		vrrpPid:  filepath.Join(base, "vrrp.pid"),
		checkPid: filepath.Join(base, "check.pid"),
		bfdPid:   filepath.Join(base, "bfd.pid"),
	}
	if err := os.WriteFile(f.conf, []byte(c.Render()), 0o644); err != nil {
		return keepalivedFiles{}, fmt.Errorf("writing keepalived config: %w", err)
	}
	return f, nil
}

// withNodeDefaults fills the fields StartKeepalived derives from the node.
func (n *Node) withNodeDefaults(c KeepalivedConfig) KeepalivedConfig {
	if c.RouterID == "" {
		c.RouterID = n.Name
	}
	if c.Iface == "" {
		c.Iface = n.Iface
	}
	return c
}

// StartKeepalived writes c (RouterID and Iface defaulting to the node's) and
// private pid files to t.TempDir() and runs keepalived in the foreground,
// VRRP only, inside n's namespace, logging to its captured output.
func (n *Node) StartKeepalived(t testing.TB, c KeepalivedConfig) *Process {
	t.Helper()
	RequireKeepalived(t)
	f, err := writeKeepalivedFiles(t.TempDir(), n.withNodeDefaults(c))
	if err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	return n.Start(t, "keepalived",
		"--dont-fork", "--log-console", "--log-detail", "--no-syslog",
		"--vrrp",
		"--use-file", f.conf,
		"--pid", f.pid,
		"--vrrp_pid", f.vrrpPid,
		"--checkers_pid", f.checkPid,
		"--bfd_pid", f.bfdPid,
	)
}

// CheckKeepalivedConfig runs keepalived's configuration test (`keepalived -t`)
// on c inside n's namespace and returns its output, with an error when
// keepalived rejects the configuration. keepalived exits non-zero on warnings
// too (such as nopreempt with priority 255, or auth with VRRPv3), so those
// count as rejections.
func (n *Node) CheckKeepalivedConfig(t testing.TB, c KeepalivedConfig) (string, error) {
	t.Helper()
	RequireKeepalived(t)
	f, err := writeKeepalivedFiles(t.TempDir(), n.withNodeDefaults(c))
	if err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	out, err := n.Command(ctx, "keepalived", "--config-test", "--use-file", f.conf).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("keepalived rejects %s: %w\n%s", f.conf, err, out)
	}
	return string(out), nil
}
