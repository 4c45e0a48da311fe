package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// vip6 is the IPv6 virtual address of the IPv6 tests.
var vip6 = netip.MustParsePrefix("2001:db8:51::100/64")

// nodeAddr is n's own address of vip's family: what unicast peers use.
func nodeAddr(n *netlab.Node, vip netip.Prefix) netip.Addr {
	if vip.Addr().Is6() {
		return n.Addr6
	}
	return n.Addr
}

// holdersOf lists the nodes that have addr on their interface.
func holdersOf(t *testing.T, lab *netlab.Lab, addr netip.Addr) []*netlab.Node {
	t.Helper()
	var out []*netlab.Node
	for _, n := range lab.Nodes {
		if n.HasAddress(t, addr) {
			out = append(out, n)
		}
	}
	return out
}

// waitSoleHolderOf waits until want, and only want, has addr.
func waitSoleHolderOf(t *testing.T, lab *netlab.Lab, addr netip.Addr, want *netlab.Node, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last []*netlab.Node
	for time.Since(start) < timeout {
		if last = holdersOf(t, lab, addr); len(last) == 1 && last[0] == want {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("after %v %s is on %v, want only on %s", timeout, addr, names(last), want.Name)
	return 0
}

// holdsSteadyOf checks for d that addr stays on want alone.
func holdsSteadyOf(t *testing.T, lab *netlab.Lab, addr netip.Addr, want *netlab.Node, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if h := holdersOf(t, lab, addr); len(h) != 1 || h[0] != want {
			t.Fatalf("%s on %v, want it to stay on %s alone", addr, names(h), want.Name)
		}
	}
}

// waitNeighbourOf waits until client's neighbour entry for addr names mac.
func waitNeighbourOf(t *testing.T, client *netlab.Node, addr netip.Addr, mac string, timeout time.Duration) {
	t.Helper()
	var got string
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if got, _ = client.ARPNeighbour(t, addr); got == mac {
			return
		}
	}
	t.Fatalf("client's neighbour entry for %s is %q, want %s", addr, got, mac)
}

// TestIPv6PairElectionTakeoverPreemptAndStop: a hasidecar pair over IPv6
// elects, hands over when the master's port goes down, takes the VIP back
// when it returns, and hands over on SIGTERM; a client pinging the VIP
// every 10 ms has its neighbour cache moved by the new master's unsolicited
// neighbour advertisements each time.
func TestIPv6PairElectionTakeoverPreemptAndStop(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2, client := lab.Nodes[0], lab.Nodes[1], lab.Client
	cfg := nodeConfig{Preempt: true, VIPs: []netip.Prefix{vip6}}
	c1, c2 := cfg, cfg
	c1.Priority, c2.Priority = 150, 100
	d1 := startHasidecar(t, lab, n1, c1)
	waitSoleHolderOf(t, lab, vip6.Addr(), n1, 10*time.Second)
	d2 := startHasidecar(t, lab, n2, c2)
	time.Sleep(500 * time.Millisecond)
	if err := client.Ping(vip6.Addr(), 3*time.Second); err != nil {
		t.Fatalf("client cannot reach the IPv6 VIP on the master: %v", err)
	}
	holdsSteadyOf(t, lab, vip6.Addr(), n1, 1500*time.Millisecond)
	st := d2.status(t).Instances[0]
	if st.State != "BACKUP" || !strings.HasPrefix(st.MasterAddress, "fe80::") {
		t.Fatalf("backup's status: %+v (want BACKUP, master at its link-local address)", st)
	}
	p := client.StartPinger(t, vip6.Addr(), 10*time.Millisecond)

	lab.PortDown(t, n1)
	took := waitSoleHolderOf(t, lab, vip6.Addr(), n2, 5*time.Second)
	t.Logf("takeover after the master's port went down: %v", took)
	waitNeighbourOf(t, client, vip6.Addr(), n2.MAC(t), 2*time.Second)
	if st := d1.status(t); st.Instances[0].State != "FAULT" {
		t.Errorf("isolated master's state %s, want FAULT", st.Instances[0].State)
	}

	lab.PortUp(t, n1)
	took = waitSoleHolderOf(t, lab, vip6.Addr(), n1, 5*time.Second)
	t.Logf("preempted back after the port came up: %v", took)
	waitNeighbourOf(t, client, vip6.Addr(), n1.MAC(t), 2*time.Second)
	time.Sleep(500 * time.Millisecond)
	s := p.Stop()
	t.Logf("client pinging the IPv6 VIP every 10ms: %d sent, %d answered, longest gap %v (the takeover includes the port-down detection)",
		s.Sent, s.Received, s.LongestGap)
	if s.Received == 0 {
		t.Error("the client never reached the VIP")
	}

	start := time.Now()
	if err := d1.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitSoleHolderOf(t, lab, vip6.Addr(), n2, 5*time.Second)
	t.Logf("backup owns the IPv6 VIP %v after SIGTERM", time.Since(start))
	if exited, err := d1.proc.WaitTimeout(5 * time.Second); !exited {
		t.Fatalf("hasidecar did not exit after SIGTERM: %v", err)
	}
	if st := d2.status(t).Instances[0]; len(st.Dropped) != 0 {
		t.Errorf("hasidecar dropped its peer's IPv6 adverts: %v", st.Dropped)
	}
}

// TestIPv6SplitBrainHeals: after a partition heals, the lower priority
// yields and the winner announces the VIP again, so the client on the
// loser's side moves its neighbour cache back without asking.
func TestIPv6SplitBrainHeals(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2, client := lab.Nodes[0], lab.Nodes[1], lab.Client
	cfg := nodeConfig{Preempt: true, VIPs: []netip.Prefix{vip6}}
	c1, c2 := cfg, cfg
	c1.Priority, c2.Priority = 150, 100
	startHasidecar(t, lab, n1, c1)
	startHasidecar(t, lab, n2, c2)
	waitSoleHolderOf(t, lab, vip6.Addr(), n1, 10*time.Second)

	lab.Partition(t, []*netlab.Node{n1})
	deadline := time.Now().Add(5 * time.Second)
	for len(holdersOf(t, lab, vip6.Addr())) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("partition: VIP on %v, want both sides master", names(holdersOf(t, lab, vip6.Addr())))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := client.Ping(vip6.Addr(), 2*time.Second); err != nil {
		t.Fatalf("partition: client cannot reach the VIP on its side: %v", err)
	}
	waitNeighbourOf(t, client, vip6.Addr(), n2.MAC(t), 2*time.Second)
	time.Sleep(1200 * time.Millisecond)

	lab.Heal(t)
	took := waitSoleHolderOf(t, lab, vip6.Addr(), n1, 3*time.Second)
	t.Logf("heal: n2 yielded after %v", took)
	// Only n1's neighbour advertisements can move the client's cache now.
	waitNeighbourOf(t, client, vip6.Addr(), n1.MAC(t), 2*time.Second)
	holdsSteadyOf(t, lab, vip6.Addr(), n1, time.Second)
}

// TestIPv6MixedPairWithKeepalived: one node of a keepalived 2.2.7 pair
// replaced with hasidecar, over IPv6, each side master in turn, multicast
// and unicast; never both holding the VIP once settled, and nothing
// keepalived sends dropped.
func TestIPv6MixedPairWithKeepalived(t *testing.T) {
	for _, unicast := range []bool{false, true} {
		for _, hasidecarHigher := range []bool{true, false} {
			name := fmt.Sprintf("unicast=%v/hasidecar_master=%v", unicast, hasidecarHigher)
			t.Run(name, func(t *testing.T) {
				netlab.RequireRoot(t)
				netlab.RequireKeepalived(t)
				t.Parallel()
				lab := netlab.New(t, 2)
				hn, kn := lab.Nodes[0], lab.Nodes[1]
				cfg := nodeConfig{Version: 3, AdvertInterval: 100 * time.Millisecond, Unicast: unicast, Preempt: true,
					VIPs: []netip.Prefix{vip6}}
				hc, kc := cfg, cfg
				hc.Priority, kc.Priority = 100, 150
				high, low := kn, hn
				if hasidecarHigher {
					hc.Priority, kc.Priority = 150, 100
					high, low = hn, kn
				}
				d := startHasidecar(t, lab, hn, hc)
				keepalivedPeer(t, lab, kn, kc)

				settle := 4*hc.AdvertInterval + 3*time.Second
				waitSoleHolderOf(t, lab, vip6.Addr(), high, settle+5*time.Second)
				holdsSteadyOf(t, lab, vip6.Addr(), high, 2*time.Second)

				lab.PortDown(t, high)
				took := waitSoleHolderOf(t, lab, vip6.Addr(), low, settle)
				t.Logf("takeover by %s after %s's port went down: %v", low.Name, high.Name, took)

				lab.PortUp(t, high)
				took = waitSoleHolderOf(t, lab, vip6.Addr(), high, settle)
				t.Logf("%s preempted back after %v", high.Name, took)
				holdsSteadyOf(t, lab, vip6.Addr(), high, 2*time.Second)

				st := d.status(t).Instances[0]
				if st.AdvertsRecv == 0 {
					t.Errorf("hasidecar accepted no advertisement from keepalived")
				}
				for reason, n := range st.Dropped {
					t.Errorf("hasidecar dropped %d of keepalived's packets: %s", n, reason)
				}
			})
		}
	}
}

// TestDualStackFailsOver: one node with an IPv4 instance carrying an
// excluded IPv6 address, and an IPv6 instance on the same VRID; when its
// port goes down, the other node takes over every address of both
// families.
func TestDualStackFailsOver(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	excluded := netip.MustParsePrefix("2001:db8:51::200/64")
	six := func(n *netlab.Node, prio int) string {
		return fmt.Sprintf(`vrrp_instance "VI_6" {
  interface = %q
  virtual_router_id = 51
  priority = %d
  advert_interval = "100ms"
  virtual_ips = [%q]
}
`, n.Iface, prio, vip6.String())
	}
	extra := fmt.Sprintf("  excluded_ips = [%q]\n", excluded.String())
	startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true, InstanceExtra: extra, Checks: six(n1, 150)})
	d2 := startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true, InstanceExtra: extra, Checks: six(n2, 100)})
	all := []netip.Addr{vip.Addr(), excluded.Addr(), vip6.Addr()}
	for _, a := range all {
		waitSoleHolderOf(t, lab, a, n1, 10*time.Second)
	}
	waitBackups(t, d2, 2, 10*time.Second)
	holdsSteadyOf(t, lab, vip6.Addr(), n1, time.Second)
	lab.PortDown(t, n1)
	for _, a := range all {
		took := waitSoleHolderOf(t, lab, a, n2, 5*time.Second)
		t.Logf("%s on the backup after %v", a, took)
	}
	lab.PortUp(t, n1)
	for _, a := range all {
		waitSoleHolderOf(t, lab, a, n1, 5*time.Second)
	}
}

// waitBackups waits until d runs n instances, all BACKUP.
func waitBackups(t *testing.T, d *daemon, n int, timeout time.Duration) {
	t.Helper()
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		st, _, err := timedStatus(d, 2*time.Second)
		if err != nil || len(st.Instances) != n {
			continue
		}
		backups := 0
		for _, in := range st.Instances {
			if in.State == "BACKUP" {
				backups++
			}
		}
		if backups == n {
			return
		}
	}
	t.Fatalf("%s: not %d instances in BACKUP within %v", d.node.Name, n, timeout)
}

// TestIPv6WithoutLinkLocalIsFault: an IPv6 instance on an interface with no
// link-local address stays in FAULT and says why; the node's IPv4 instance
// keeps running; once the address is back, a reload starts it.
func TestIPv6WithoutLinkLocalIsFault(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 1)
	n := lab.Nodes[0]
	ps, err := n.Addresses6()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Addr().IsLinkLocalUnicast() {
			n.Run(t, "ip", "addr", "del", p.String(), "dev", n.Iface)
		}
	}
	six := fmt.Sprintf(`vrrp_instance "VI_6" {
  interface = %q
  virtual_router_id = 51
  priority = 150
  advert_interval = "100ms"
  virtual_ips = [%q]
}
`, n.Iface, vip6.String())
	d := startHasidecar(t, lab, n, nodeConfig{Priority: 150, Checks: six})
	waitSoleHolderOf(t, lab, vip.Addr(), n, 10*time.Second)
	var st6 string
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		for _, in := range d.status(t).Instances {
			if in.Name == "VI_6" && in.State == "FAULT" && len(in.Faults) == 1 && strings.Contains(in.Faults[0], "no IPv6 link-local address") {
				if n.HasAddress(t, vip6.Addr()) {
					t.Error("the faulty IPv6 instance holds its VIP")
				}
				recoversOnReload(t, lab, d, n)
				return
			}
			if in.Name == "VI_6" {
				st6 = fmt.Sprintf("%+v", in)
			}
		}
	}
	t.Fatalf("VI_6 is %s; want FAULT for want of a link-local address", st6)
}

// recoversOnReload gives n's interface a link-local address back: a reload
// of the unchanged file then starts the IPv6 instance afresh, which wins.
func recoversOnReload(t *testing.T, lab *netlab.Lab, d *daemon, n *netlab.Node) {
	t.Helper()
	n.Run(t, "ip", "addr", "add", "fe80::1/64", "dev", n.Iface, "nodad")
	if code, out := d.reload(t); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	waitSoleHolderOf(t, lab, vip6.Addr(), n, 10*time.Second)
	for _, in := range d.status(t).Instances {
		if in.Name == "VI_6" && (in.State != "MASTER" || !strings.HasPrefix(in.MasterAddress, "fe80::1")) {
			t.Errorf("VI_6 after the reload: %+v", in)
		}
	}
}

// TestDualStackReloadKeepsBothInstances: an IPv4 and an IPv6 instance on one
// VRID are two instances to a reload too; reloading a changed file keeps
// both masters in place, and clients of both VIPs see no gap.
func TestDualStackReloadKeepsBothInstances(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 1)
	n := lab.Nodes[0]
	six := func(prio int) string {
		return fmt.Sprintf(`vrrp_instance "VI_6" {
  interface = %q
  virtual_router_id = 51
  priority = %d
  advert_interval = "100ms"
  virtual_ips = [%q]
  excluded_ips = ["198.51.100.150/24"]
}
`, n.Iface, prio, vip6.String())
	}
	c := nodeConfig{Priority: 150, Preempt: true, Checks: six(150)}
	d := startHasidecar(t, lab, n, c)
	waitSoleHolderOf(t, lab, vip.Addr(), n, 10*time.Second)
	waitSoleHolderOf(t, lab, vip6.Addr(), n, 10*time.Second)
	ping := lab.Client.StartPinger(t, vip6.Addr(), 10*time.Millisecond)
	ping4 := lab.Client.StartPinger(t, vip.Addr(), 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	transitions := func() map[string]int {
		m := map[string]int{}
		for _, in := range d.status(t).Instances {
			m[in.Name] = in.Transitions
		}
		return m
	}
	before := transitions()
	c.Priority, c.Checks = 160, six(170)
	d.write(t, lab, c)
	if code, out := d.reload(t); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	time.Sleep(500 * time.Millisecond)
	s, s4 := ping.Stop(), ping4.Stop()
	after := transitions()
	for _, in := range d.status(t).Instances {
		if in.State != "MASTER" || after[in.Name] != before[in.Name] {
			t.Errorf("%s after the reload: %+v (transitions before %d)", in.Name, in, before[in.Name])
		}
	}
	// A replaced instance would start again as backup: 300 ms at least.
	if s.LongestGap > 100*time.Millisecond || s4.LongestGap > 100*time.Millisecond {
		t.Errorf("the clients saw gaps of %v (IPv6) and %v (IPv4) across the reload", s.LongestGap, s4.LongestGap)
	}
	if !n.HasAddress(t, netip.MustParseAddr("198.51.100.150")) {
		t.Error("the excluded address is gone after the reload")
	}
}

// TestIPv6NginxDeathMovesTheVIP is the README's nginx pair over IPv6: the
// check fetches nginx at [::1], the client fetches the page at the IPv6 VIP,
// and nginx dying on the master moves the VIP and the client to the backup.
func TestIPv6NginxDeathMovesTheVIP(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireNginx(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	checks, track := nginxCheck(100*time.Millisecond, 2)
	checks = strings.Replace(checks, "http://127.0.0.1/healthz", "http://[::1]/healthz", 1)
	var webs []*netlab.Nginx
	for i, n := range lab.Nodes {
		webs = append(webs, n.StartNginx(t))
		startHasidecar(t, lab, n, nodeConfig{Priority: []int{150, 100}[i], Preempt: true,
			VIPs: []netip.Prefix{vip6}, Checks: checks, InstanceExtra: track})
	}
	waitSoleHolderOf(t, lab, vip6.Addr(), n1, 10*time.Second)
	client := lab.Client.StartHTTPProber(t, "http://["+vip6.Addr().String()+"]/", 10*time.Millisecond)
	waitServedBy(t, client, n1.Name, 5*time.Second)

	webs[0].Kill(t)
	took := waitSoleHolderOf(t, lab, vip6.Addr(), n2, 5*time.Second)
	t.Logf("IPv6 VIP on %s %v after nginx died on %s", n2.Name, took, n1.Name)
	waitServedBy(t, client, n2.Name, 5*time.Second)
	s := client.Stop()
	t.Logf("client over IPv6: %d requests, %d answered, longest gap %v, served by %v", s.Sent, s.OK, s.LongestGap, s.ServedBy)
}
