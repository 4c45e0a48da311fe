package e2e

import (
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

var (
	vip2 = netip.MustParsePrefix("198.51.100.101/24")
	vip3 = netip.MustParsePrefix("198.51.100.102/24")
)

// reload runs `hasidecar reload` against d and returns its exit code and
// output.
func (d *daemon) reload(t *testing.T) (int, string) {
	t.Helper()
	out, err := exec.Command(binary, "reload", "--config", d.config).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestReloadIsHitless changes a running master's configuration several times
// while a client pings the VIP that stays: it must see no gap.
func TestReloadIsHitless(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	c1 := nodeConfig{Priority: 150, Preempt: true}
	d1 := startHasidecar(t, lab, n1, c1)
	waitSoleHolder(t, lab, n1, 10*time.Second)
	d2 := startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true})
	time.Sleep(500 * time.Millisecond)
	ping := lab.Client.StartPinger(t, vip.Addr(), 10*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	before := d1.status(t).Instances[0].Transitions

	// An invalid file changes nothing and says where it is wrong.
	good, _ := os.ReadFile(d1.config)
	os.WriteFile(d1.config, []byte(strings.Replace(string(good), "priority = 150", "priority = 300", 1)), 0o644)
	code, out := d1.reload(t)
	if code != 1 || !strings.Contains(out, "hasidecar.hcl:8:14:") || !strings.Contains(out, "out of range") {
		t.Fatalf("reload of an invalid file: exit %d\n%s", code, out)
	}
	// The same through SIGHUP: logged, nothing changes.
	d1.proc.Signal(syscall.SIGHUP)
	if err := d1.proc.WaitLog("reload rejected", 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// Add a VIP on the master: added and announced, the old one untouched.
	c1.VIPs = []netip.Prefix{vip, vip2}
	d1.write(t, lab, c1)
	// the backup must know both addresses, or it drops the master's adverts
	c2 := nodeConfig{Priority: 100, Preempt: true, VIPs: c1.VIPs}
	d2.write(t, lab, c2)
	if code, out := d2.reload(t); code != 0 {
		t.Fatalf("reload of the backup: %d %s", code, out)
	}
	if code, out := d1.reload(t); code != 0 || !strings.Contains(out, "reloaded") {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	if err := n1.WaitAddress(t, vip2.Addr(), true, 2*time.Second); err != nil {
		t.Fatal(err)
	}

	// Remove it again, and add a second instance: it starts as backup and,
	// alone on its VRID, becomes master with its own VIP.
	c1.VIPs = []netip.Prefix{vip}
	c1.Checks = `
vrrp_instance "VI_2" {
  interface         = "eth0"
  virtual_router_id = 52
  priority          = 100
  advert_interval   = "100ms"
  virtual_ips       = ["198.51.100.102/24"]
}
`
	d1.write(t, lab, c1)
	d2.write(t, lab, nodeConfig{Priority: 100, Preempt: true})
	if code, out := d2.reload(t); code != 0 {
		t.Fatalf("reload of the backup: %d %s", code, out)
	}
	if code, out := d1.reload(t); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	if err := n1.WaitAddress(t, vip2.Addr(), false, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := n1.WaitAddress(t, vip3.Addr(), true, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := d1.status(t); len(st.Instances) != 2 || st.Instances[1].Name != "VI_2" {
		t.Fatalf("status after adding an instance: %+v", st.Instances)
	}

	// A check that fails, tracked with weight -60 (150 -> 90): the priority
	// moves and the backup (100) takes over; removing it gives it back.
	c1.Checks = `
check "always-fails" {
  plugin   = "script"
  interval = "100ms"
  timeout  = "80ms"
  config { command = ["/bin/false"] }
}
`
	c1.InstanceExtra = `  track_check "always-fails" { weight = -60 }` + "\n"
	d1.write(t, lab, c1)
	if code, out := d1.reload(t); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	// VI_2 was removed: it resigned and its VIP went.
	if err := n1.WaitAddress(t, vip3.Addr(), false, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	waitSoleHolder(t, lab, n2, 5*time.Second)
	if st := d1.status(t).Instances[0]; st.EffectivePriority != 90 || len(st.Tracks) != 1 {
		t.Fatalf("after adding a failing check: %+v", st)
	}
	c1.Checks, c1.InstanceExtra = "", ""
	d1.write(t, lab, c1)
	d1.proc.Signal(syscall.SIGHUP) // SIGHUP reloads as `hasidecar reload` does
	waitSoleHolder(t, lab, n1, 5*time.Second)
	// No check uses the script plugin any more: its process is stopped
	// (asked to exit, and SIGKILLed after 3 s more if it has not: on a
	// loaded machine the whole may take over 5 s).
	for end := time.Now().Add(15 * time.Second); len(d1.proc.Children()) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("plugin processes %v outlived their last check", d1.proc.Children())
		}
	}

	s := ping.Stop()
	st := d1.status(t).Instances[0]
	t.Logf("client: %d/%d replies, longest gap %v; transitions %d -> %d", s.Received, s.Sent, s.LongestGap, before, st.Transitions)
	// Two real failovers happened (the failing check and its removal), each
	// costs at most a Master_Down_Interval at 100 ms; the reloads themselves
	// must cost nothing.
	if s.LongestGap > time.Second {
		t.Errorf("client outage %v", s.LongestGap)
	}
}

// TestReloadOfAnUnchangedVIPCostsNoReply pings while the master reloads a
// configuration that changes everything but the VIP.
func TestReloadOfAnUnchangedVIPCostsNoReply(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 1)
	n := lab.Nodes[0]
	c := nodeConfig{Priority: 150, Preempt: true}
	d := startHasidecar(t, lab, n, c)
	waitSoleHolder(t, lab, n, 10*time.Second)
	ping := lab.Client.StartPinger(t, vip.Addr(), 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	before := d.status(t).Instances[0].Transitions
	for i, change := range []func(*nodeConfig){
		func(c *nodeConfig) { c.Priority = 160 },
		func(c *nodeConfig) { c.AdvertInterval = 200 * time.Millisecond },
		func(c *nodeConfig) { c.Preempt = false },
		func(c *nodeConfig) { c.VIPs = []netip.Prefix{vip, vip2} },
	} {
		change(&c)
		d.write(t, lab, c)
		if code, out := d.reload(t); code != 0 {
			t.Fatalf("reload %d: exit %d\n%s", i, code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s := ping.Stop()
	st := d.status(t).Instances[0]
	if st.State != "MASTER" || st.Transitions != before || st.Priority != 160 || st.AdvertInterval != "200ms" {
		t.Fatalf("after reloads: %+v (transitions before %d)", st, before)
	}
	if s.LongestGap > 100*time.Millisecond || s.Received < s.Sent-2 {
		t.Fatalf("the client saw a gap on an unchanged VIP: %d/%d replies, longest gap %v", s.Received, s.Sent, s.LongestGap)
	}
	t.Logf("client across 4 reloads: %d/%d replies, longest gap %v", s.Received, s.Sent, s.LongestGap)
}
