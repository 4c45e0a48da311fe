package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// syncGroupConf is a keepalived.conf with a vrrp_sync_group of two
// instances, one on each segment, and a group notify script.
func syncGroupConf(n *netlab.Node, prio int, groupNotify string) string {
	notify := ""
	if groupNotify != "" {
		notify = fmt.Sprintf("    notify %q\n", groupNotify)
	}
	return fmt.Sprintf(`global_defs {
    router_id %[1]s
    script_user root
}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
%[6]s}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 71
    priority %[2]d
    advert_int 1
    virtual_ipaddress {
        %[3]s
    }
}
vrrp_instance VI_2 {
    interface %[4]s
    virtual_router_id 72
    priority %[2]d
    advert_int 1
    virtual_ipaddress {
        %[5]s
    }
}
`, n.Name, prio, vip, netlab.SecondIface(), netip.PrefixFrom(netlab.SecondAddress(100), 24), notify)
}

// TestSyncGroupWithKeepalived: a sync group of two instances on two
// segments, imported on A (priority 150) and run by keepalived on B (100).
// A fault of either member on the master moves both members' VIPs to B,
// and they come back together; once settled they are never split.
func TestSyncGroupWithKeepalived(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	lab.AddSecondSegment(t)
	a, b := lab.Nodes[0], lab.Nodes[1]
	vip2 := netlab.SecondAddress(100)
	dir := t.TempDir()
	out := filepath.Join(dir, "group-notify")
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$*\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	startKeepalivedFile(t, b, syncGroupConf(b, 100, ""), "")
	startImported(t, a, syncGroupConf(a, 150, script), "a", 0)

	both := func(want *netlab.Node, what string) {
		t.Helper()
		t.Logf("%s: waiting for both VIPs on %s", what, want.Name)
		holderOf(t, lab, vip.Addr(), want, 20*time.Second)
		holderOf(t, lab, vip2, want, 20*time.Second)
		// Settled: neither moves, so the group is never split.
		staysOn(t, lab, vip.Addr(), want, 2*time.Second)
		staysOn(t, lab, vip2, want, time.Second)
	}
	both(a, "start")
	lab.SecondPortDown(t, a) // VI_2's link on the master fails
	both(b, "eth1 down on A")
	lab.SecondPortUp(t, a)
	both(a, "eth1 back")
	lab.PortDown(t, a) // VI_1's link now
	both(b, "eth0 down on A")
	lab.PortUp(t, a)
	both(a, "eth0 back")

	got, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	want := []string{"GROUP G1 BACKUP 0", "GROUP G1 MASTER 0", "GROUP G1 FAULT 0", "GROUP G1 BACKUP 0", "GROUP G1 MASTER 0",
		"GROUP G1 FAULT 0", "GROUP G1 BACKUP 0", "GROUP G1 MASTER 0"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("group notify saw:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestSyncGroupKeepalivedMaster: the other way round, keepalived's group is
// master (150) and the imported one backup (100): a fault of one member on
// keepalived's side moves both members to hasidecar, and they return
// together.
func TestSyncGroupKeepalivedMaster(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	lab.AddSecondSegment(t)
	a, b := lab.Nodes[0], lab.Nodes[1]
	vip2 := netlab.SecondAddress(100)
	startKeepalivedFile(t, b, syncGroupConf(b, 150, ""), "")
	startImported(t, a, syncGroupConf(a, 100, ""), "a", 0)
	both := func(want *netlab.Node, what string) {
		t.Helper()
		t.Logf("%s: waiting for both VIPs on %s", what, want.Name)
		holderOf(t, lab, vip.Addr(), want, 20*time.Second)
		holderOf(t, lab, vip2, want, 20*time.Second)
		staysOn(t, lab, vip.Addr(), want, 2*time.Second)
		staysOn(t, lab, vip2, want, time.Second)
	}
	both(b, "start")
	lab.SecondPortDown(t, b)
	both(a, "eth1 down on keepalived's node")
	lab.SecondPortUp(t, b)
	both(b, "eth1 back")
}

// TestSyncGroupKeepsInstanceWeights: hasidecar keeps instance-level
// weights inside a group (keepalived drops them without
// sync_group_tracking_weight). A's VI_1 tracks a check with weight -60,
// which its group shares with VI_2: when it fails (150 - 60 < 100) both
// members fall below keepalived's, whose group takes both over (it would
// not take one alone: its members become master only together), and both
// VIPs stay on B; when the check recovers both come back.
func TestSyncGroupKeepsInstanceWeights(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	lab.AddSecondSegment(t)
	a, b := lab.Nodes[0], lab.Nodes[1]
	vip2 := netlab.SecondAddress(100)
	healthy := newFlag(t)
	startKeepalivedFile(t, b, syncGroupConf(b, 100, ""), "")

	dir := t.TempDir()
	d := &daemon{node: a, config: filepath.Join(dir, "hasidecar.hcl"), socket: filepath.Join(dir, "hasidecar.sock")}
	hcl := fmt.Sprintf(`node_name = "a"
log_level = "debug"
control { socket = %q }
check "service" {
  plugin   = "script"
  interval = "200ms"
  timeout  = "150ms"
  config { command = ["/usr/bin/test", "-f", %q] }
}
vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 71
  priority          = 150
  version           = 2
  fast_preempt      = false
  virtual_ips       = [%q]
  track_check "service" { weight = -60 }
}
vrrp_instance "VI_2" {
  interface         = %q
  virtual_router_id = 72
  priority          = 150
  version           = 2
  fast_preempt      = false
  virtual_ips       = [%q]
}
sync_group "G1" {
  instances = ["VI_1", "VI_2"]
}
`, d.socket, string(healthy), vip, netlab.SecondIface(), netip.PrefixFrom(vip2, 24))
	if err := os.WriteFile(d.config, []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	d.proc = a.Start(t, binary, "run", "--config", d.config)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hasidecar log of %s:\n%s", a.Name, d.proc.Log())
		}
	})
	both := func(want *netlab.Node, what string, settle time.Duration) {
		t.Helper()
		t.Logf("%s: waiting for both VIPs on %s", what, want.Name)
		holderOf(t, lab, vip.Addr(), want, 20*time.Second)
		holderOf(t, lab, vip2, want, 20*time.Second)
		staysOn(t, lab, vip.Addr(), want, settle)
		staysOn(t, lab, vip2, want, time.Second)
	}
	both(a, "start", 2*time.Second)
	healthy.set(t, false)
	// Long enough for VI_2 to want master (Master_Down_Interval, 3.6 s) and
	// be held back, twice.
	both(b, "VI_1's check failing on A", 8*time.Second)
	healthy.set(t, true)
	both(a, "check back", 2*time.Second)
}
