package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// soleHolderAnywhere waits until want, and only want, has addr on any of
// its interfaces.
func soleHolderAnywhere(t *testing.T, lab *netlab.Lab, addr netip.Addr, want *netlab.Node, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last []string
	for time.Since(start) < timeout {
		last = nil
		for _, n := range lab.Nodes {
			if n.HoldsAnywhere(t, addr) {
				last = append(last, n.Name)
			}
		}
		if len(last) == 1 && last[0] == want.Name {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("after %v %s is on %v, want only on %s", timeout, addr, last, want.Name)
	return 0
}

// TestVirtualMACWithKeepalived: use_vmac on hasidecar beside keepalived's
// use_vmac, for each family, with adverts on the macvlan and with
// vmac_xmit_base on both: the VIP lives on the macvlan of whichever node is
// master, and the client's neighbour entry names the RFC's virtual MAC
// throughout, so a failover needs no cache update. With vmac_xmit_base the
// election itself shows that hasidecar sends from its base MAC: both nodes'
// macvlans share the virtual MAC, and a frame from it reaches the peer's
// macvlan, never the base interface keepalived then listens on.
func TestVirtualMACWithKeepalived(t *testing.T) {
	for _, tc := range []struct{ v6, xmitBase bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		v6 := tc.v6
		t.Run(fmt.Sprintf("ipv6=%v/vmac_xmit_base=%v", v6, tc.xmitBase), func(t *testing.T) {
			netlab.RequireRoot(t)
			netlab.RequireKeepalived(t)
			t.Parallel()
			lab := netlab.New(t, 2)
			hn, kn, client := lab.Nodes[0], lab.Nodes[1], lab.Client
			v, mac := vip, "00:00:5e:00:01:33"
			if v6 {
				v, mac = vip6, "00:00:5e:00:02:33"
			}
			cfg := nodeConfig{Preempt: true, VIPs: []netip.Prefix{v}, InstanceExtra: "  use_vmac = true\n"}
			if tc.xmitBase {
				cfg.InstanceExtra += "  vmac_xmit_base = true\n"
			}
			hc, kc := cfg, cfg
			hc.Priority, kc.Priority = 150, 100
			kc.InstanceExtra = ""
			d := startHasidecar(t, lab, hn, hc)
			soleHolderAnywhere(t, lab, v.Addr(), hn, 10*time.Second)
			// keepalived sets arp_ignore on its base interface but not
			// arp_announce (hasidecar sets both): without it, the node's own
			// ARP requests to the client carry the VIP as sender from the
			// base MAC, and the client learns that MAC for the VIP.
			kn.Run(t, "sysctl", "-qw", "net.ipv4.conf."+kn.Iface+".arp_announce=2")
			keepalivedVMACPeer(t, lab, kn, kc, tc.xmitBase)
			// keepalived, the backup, must hear hasidecar and stay backup.
			for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				if kn.HoldsAnywhere(t, v.Addr()) {
					t.Fatal("keepalived took the VIP beside hasidecar: it does not hear hasidecar's adverts")
				}
			}
			if err := client.Ping(v.Addr(), 3*time.Second); err != nil {
				t.Fatalf("client cannot reach the VIP: %v", err)
			}
			waitNeighbourOf(t, client, v.Addr(), mac, 2*time.Second)
			p := client.StartPinger(t, v.Addr(), 10*time.Millisecond)

			lab.PortDown(t, hn)
			took := soleHolderAnywhere(t, lab, v.Addr(), kn, 5*time.Second)
			t.Logf("keepalived took over after %v", took)
			waitNeighbourOf(t, client, v.Addr(), mac, time.Second)
			lab.PortUp(t, hn)
			took = soleHolderAnywhere(t, lab, v.Addr(), hn, 5*time.Second)
			t.Logf("hasidecar preempted back after %v", took)
			time.Sleep(time.Second)
			stopped := time.Now()
			s := p.Stop()
			t.Logf("client pinging every 10ms: %d sent, %d answered, longest gap %v", s.Sent, s.Received, s.LongestGap)
			// The switch must send the VIP's traffic to hasidecar again: the
			// old master's last replies, sent from the shared virtual MAC
			// after hasidecar's first burst, point the switch at it, and with
			// vmac_xmit_base only the follow-up burst points it back.
			if since := stopped.Sub(s.LastReply); since > 500*time.Millisecond {
				t.Errorf("the client's last reply came %v before it stopped pinging (1 s after the preemption): the VIP is unreachable", since.Round(time.Millisecond))
			}
			if got, _ := client.ARPNeighbour(t, v.Addr()); got != mac {
				t.Errorf("client's neighbour entry %q, want the virtual MAC %s", got, mac)
			}
			st := d.status(t).Instances[0]
			for reason, n := range st.Dropped {
				t.Errorf("hasidecar dropped %d of keepalived's packets: %s", n, reason)
			}
			if st.AdvertsRecv == 0 {
				t.Error("hasidecar accepted no advertisement from keepalived")
			}
		})
	}
}

// keepalivedVMACPeer is keepalivedPeer with use_vmac (and vmac_xmit_base).
func keepalivedVMACPeer(t *testing.T, lab *netlab.Lab, n *netlab.Node, c nodeConfig, xmitBase bool) *netlab.Process {
	t.Helper()
	c = c.withDefaults()
	kc := netlab.KeepalivedConfig{
		Iface: n.Iface, State: "BACKUP", VRID: c.VRID, Priority: c.Priority, Version: c.Version,
		AdvertInterval: c.AdvertInterval, Preempt: c.Preempt, VIPs: c.VIPs,
		InstanceExtra: []string{"use_vmac"},
	}
	if xmitBase {
		kc.InstanceExtra = append(kc.InstanceExtra, "vmac_xmit_base")
	}
	p := n.StartKeepalived(t, kc)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keepalived log of %s:\n%s", n.Name, p.Log())
		}
	})
	return p
}

// TestVirtualMACGapAtFailover measures the client's longest gap when a
// hasidecar master drops off the segment, with and without use_vmac.
func TestVirtualMACGapAtFailover(t *testing.T) {
	for _, tc := range []struct{ useVMAC, unicast bool }{{false, false}, {true, false}, {true, true}} {
		useVMAC := tc.useVMAC
		t.Run(fmt.Sprintf("use_vmac=%v/unicast=%v", useVMAC, tc.unicast), func(t *testing.T) {
			netlab.RequireRoot(t)
			t.Parallel()
			lab := netlab.New(t, 2)
			n1, n2, client := lab.Nodes[0], lab.Nodes[1], lab.Client
			cfg := nodeConfig{Preempt: true, Unicast: tc.unicast}
			if useVMAC {
				cfg.InstanceExtra = "  use_vmac = true\n"
			}
			c1, c2 := cfg, cfg
			c1.Priority, c2.Priority = 150, 100
			startHasidecar(t, lab, n1, c1)
			soleHolderAnywhere(t, lab, vip.Addr(), n1, 10*time.Second)
			startHasidecar(t, lab, n2, c2)
			time.Sleep(time.Second)
			soleHolderAnywhere(t, lab, vip.Addr(), n1, time.Second) // no split brain
			if err := client.Ping(vip.Addr(), 3*time.Second); err != nil {
				t.Fatalf("client cannot reach the VIP: %v", err)
			}
			p := client.StartPinger(t, vip.Addr(), 10*time.Millisecond)
			time.Sleep(300 * time.Millisecond)
			lab.PortDown(t, n1)
			soleHolderAnywhere(t, lab, vip.Addr(), n2, 5*time.Second)
			time.Sleep(time.Second)
			s := p.Stop()
			t.Logf("use_vmac=%v unicast=%v: master dropped at 100ms adverts; client's longest gap %v (%d sent, %d answered)",
				useVMAC, tc.unicast, s.LongestGap, s.Sent, s.Received)
			if s.LongestGap > 3*time.Second {
				t.Errorf("longest gap %v", s.LongestGap)
			}
		})
	}
}

// TestVirtualMACIsNotADuplicateOwner: with use_vmac the master answers for
// its VIP from the virtual MAC, which the duplicate-VIP guard on the
// interface sees; that is us, not another owner.
func TestVirtualMACIsNotADuplicateOwner(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 1)
	n := lab.Nodes[0]
	d := startHasidecar(t, lab, n, nodeConfig{Priority: 150, InstanceExtra: "  use_vmac = true\n"})
	soleHolderAnywhere(t, lab, vip.Addr(), n, 10*time.Second)
	// Past the guard's grace, the second gratuitous ARP burst (5 s) and a
	// probe, with the client's ARP requests answered from the virtual MAC.
	p := lab.Client.StartPinger(t, vip.Addr(), 50*time.Millisecond)
	time.Sleep(7 * time.Second)
	if s := p.Stop(); s.Received == 0 {
		t.Fatal("the client never reached the VIP")
	}
	if c := d.status(t).Instances[0].Conflicts; len(c) != 0 {
		t.Errorf("conflicts reported: %+v", c)
	}
}

// TestReloadRemovesTheVirtualMACInterface: a reload that drops use_vmac
// from an instance removes its macvlan from the node, and the VIP moves
// back onto the interface itself.
func TestReloadRemovesTheVirtualMACInterface(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n := lab.Nodes[0]
	c := nodeConfig{Priority: 150, Preempt: true, InstanceExtra: "  use_vmac = true\n"}
	d := startHasidecar(t, lab, n, c)
	soleHolderAnywhere(t, lab, vip.Addr(), n, 10*time.Second)
	if !n.HasAddressOn(t, "vrrp.51", vip.Addr()) {
		t.Fatal("the VIP is not on vrrp.51")
	}
	c.InstanceExtra = ""
	d.write(t, lab, c)
	if code, out := d.reload(t); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	waitSoleHolder(t, lab, n, 10*time.Second)
	if out := n.Run(t, "ip", "-o", "link", "show"); strings.Contains(out, "vrrp.51") {
		t.Fatalf("vrrp.51 is still there after the reload dropped use_vmac:\n%s", out)
	}
}

// TestVMACInterfaceNamesTheMacvlan: vmac_interface names the macvlan
// (keepalived's `use_vmac NAME`); the peer keeps the default name, and the
// VIP moves between the two.
func TestVMACInterfaceNamesTheMacvlan(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true,
		InstanceExtra: "  use_vmac = true\n  vmac_interface = \"vip51\"\n"})
	startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true, InstanceExtra: "  use_vmac = true\n"})
	soleHolderAnywhere(t, lab, vip.Addr(), n1, 10*time.Second)
	if !n1.HasAddressOn(t, "vip51", vip.Addr()) {
		t.Fatal("the VIP is not on vip51")
	}
	lab.PortDown(t, n1)
	soleHolderAnywhere(t, lab, vip.Addr(), n2, 5*time.Second)
	if !n2.HasAddressOn(t, "vrrp.51", vip.Addr()) {
		t.Fatal("the peer's VIP is not on vrrp.51")
	}
	lab.PortUp(t, n1)
	soleHolderAnywhere(t, lab, vip.Addr(), n1, 5*time.Second)
}
