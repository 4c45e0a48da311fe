package netlab

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// speakerConfig is a bgpd without zebra announcing prefix to the router, as
// a hasidecar node would.
func speakerConfig(self, router netip.Addr, prefixes ...netip.Prefix) string {
	var networks strings.Builder
	for _, p := range prefixes {
		fmt.Fprintf(&networks, "  network %s\n", p)
	}
	return fmt.Sprintf(`frr defaults traditional
hostname speaker
router bgp 65010
 bgp router-id %[1]s
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor %[2]s remote-as 65000
 neighbor %[2]s timers connect 1
 address-family ipv4 unicast
%[3]s exit-address-family
`, self, router, networks.String())
}

// speakerConfig6 is a bgpd without zebra announcing prefixes to the router
// over an IPv6 session, IPv6 routes only.
func speakerConfig6(self netip.Addr, router netip.Addr, prefixes ...netip.Prefix) string {
	var networks strings.Builder
	for _, p := range prefixes {
		fmt.Fprintf(&networks, "  network %s\n", p)
	}
	return fmt.Sprintf(`frr defaults traditional
hostname speaker
router bgp 65010
 bgp router-id %[1]s
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor %[2]s remote-as 65000
 neighbor %[2]s timers connect 1
 address-family ipv4 unicast
  no neighbor %[2]s activate
 exit-address-family
 address-family ipv6 unicast
  neighbor %[2]s activate
%[3]s exit-address-family
`, self, router, networks.String())
}

func TestRouterConfigAcceptsOnlyHostRoutesOfTheRange(t *testing.T) {
	c := RouterConfig{ASN: 65000, PeerASN: 65010, Peers: []netip.Addr{Address(2), Address(3)}}
	got := c.BGPDConfig(Address(1))
	for _, want := range []string{
		"router bgp 65000\n bgp router-id 198.51.100.1\n",
		"ip prefix-list hasidecar-vips seq 5 permit 203.0.113.64/26 ge 32\n",
		" neighbor hasidecar remote-as 65010\n",
		" neighbor 198.51.100.2 peer-group hasidecar\n",
		" neighbor 198.51.100.3 peer-group hasidecar\n",
		"  maximum-paths 8\n",
		" no bgp ebgp-requires-policy\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "ipv6") || strings.Contains(got, "hasidecar6") {
		t.Errorf("IPv4-only config speaks IPv6:\n%s", got)
	}

	c.Peers6 = []netip.Addr{Address6(2), Address6(3)}
	got = c.BGPDConfig(Address(1))
	for _, want := range []string{
		"ipv6 prefix-list hasidecar-vips6 seq 5 permit 2001:db8:52::100/120 ge 128\n",
		" neighbor hasidecar6 remote-as 65010\n",
		" neighbor 2001:db8:51::2 peer-group hasidecar6\n",
		" neighbor 2001:db8:51::3 peer-group hasidecar6\n",
		"  no neighbor hasidecar6 activate\n exit-address-family\n",
		" address-family ipv6 unicast\n  maximum-paths 8\n  neighbor hasidecar6 activate\n",
		"  neighbor hasidecar6 prefix-list hasidecar-vips6 in\n",
		"  neighbor hasidecar6 route-map hasidecar6-in in\n",
		" set ipv6 next-hop prefer-global\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	if AnnounceNet6.Overlaps(BehindNet6) || !AnnounceNet6.Contains(netip.MustParseAddr("2001:db8:52::100")) {
		t.Errorf("AnnounceNet6 %s overlaps BehindNet6 %s or lacks ::100", AnnounceNet6, BehindNet6)
	}
}

// TestRouterInstallsLearnedIPv6Routes: a speaker announces an IPv6 /128
// over an IPv6 session; the router installs it in its kernel via the
// speaker's global address (not its link-local one), its client reaches the
// address through it, and a /128 outside AnnounceNet6 is refused.
func TestRouterInstallsLearnedIPv6Routes(t *testing.T) {
	RequireFRR(t)
	t.Parallel()
	vip := netip.MustParsePrefix("2001:db8:52::100/128")
	other := netip.MustParsePrefix("2001:db8:52::10/128")
	lab := New(t, 2)
	n1 := lab.Nodes[1]
	r := lab.StartRouter(t, lab.Nodes[0], RouterConfig{ASN: 65000, PeerASN: 65010,
		Peers: []netip.Addr{n1.Addr}, Peers6: []netip.Addr{n1.Addr6}})
	n1.Run(t, "ip", "addr", "add", vip.String(), "dev", "lo")
	if got := r.Run(t, "sysctl", "-n", "net.ipv6.conf.all.forwarding"); strings.TrimSpace(got) != "1" {
		t.Errorf("router's IPv6 forwarding: %q, want 1", got)
	}
	n1.StartBGPD(t, speakerConfig6(n1.Addr, r.Addr6, vip, other))
	took := r.WaitNexthops(t, vip, []netip.Addr{n1.Addr6}, 60*time.Second)
	t.Logf("route via %s in the router's kernel after %v:\n%s", n1.Addr6, took, r.KernelRoute(t, vip))
	if err := r.Client.Ping(vip.Addr(), 5*time.Second); err != nil {
		t.Fatalf("client behind the router cannot reach %s: %v", vip.Addr(), err)
	}
	if paths := r.BGPPaths(t, vip); len(paths) != 1 || paths[0].Peer != n1.Addr6 || !paths[0].Best {
		t.Errorf("BGP paths to %s: %+v; want one best, from %s", vip, paths, n1.Addr6)
	}
	if paths := r.BGPPaths(t, other); len(paths) != 0 {
		t.Errorf("router accepted %s from outside %s: %+v", other, AnnounceNet6, paths)
	}
}

// TestRouterInstallsLearnedRoutes: two speakers announce the same /32; the
// router installs it in its kernel with both as next hops, its client
// reaches the address through it, and the route follows the speakers as
// they go. The client's namespace goes with the lab.
func TestRouterInstallsLearnedRoutes(t *testing.T) {
	RequireFRR(t)
	t.Parallel()
	vip := netip.MustParsePrefix("203.0.113.100/32")
	var clientNS string
	t.Run("lab", func(t *testing.T) {
		lab := New(t, 3)
		n1, n2 := lab.Nodes[1], lab.Nodes[2]
		r := lab.StartRouter(t, lab.Nodes[0], RouterConfig{ASN: 65000, PeerASN: 65010, Peers: []netip.Addr{n1.Addr, n2.Addr}})
		clientNS = r.Client.Name
		for _, n := range []*Node{n1, n2} {
			n.Run(t, "ip", "addr", "add", vip.String(), "dev", "lo")
		}
		if got := r.Run(t, "sysctl", "-n", "net.ipv4.ip_forward", "net.ipv4.fib_multipath_hash_policy"); strings.Fields(got)[0] != "1" || strings.Fields(got)[1] != "1" {
			t.Errorf("router's forwarding and multipath hash: %q, want 1 1", got)
		}

		s1 := n1.StartBGPD(t, speakerConfig(n1.Addr, r.Addr, vip))
		took := r.WaitNexthops(t, vip, []netip.Addr{n1.Addr}, 60*time.Second)
		t.Logf("route via %s in the router's kernel after %v:\n%s", n1.Addr, took, r.KernelRoute(t, vip))
		if err := r.Client.Ping(vip.Addr(), 5*time.Second); err != nil {
			t.Fatalf("client behind the router cannot reach %s: %v", vip.Addr(), err)
		}

		// n2 also announces a prefix outside the accepted range.
		other := netip.MustParsePrefix("203.0.113.10/32")
		n2.StartBGPD(t, speakerConfig(n2.Addr, r.Addr, vip, other))
		r.WaitNexthops(t, vip, []netip.Addr{n1.Addr, n2.Addr}, 60*time.Second)
		t.Logf("ECMP:\n%s", r.KernelRoute(t, vip))
		paths := r.BGPPaths(t, vip)
		if len(paths) != 2 || paths[0].Best == paths[1].Best || !paths[0].Multipath || !paths[1].Multipath {
			t.Errorf("BGP paths to %s: %+v; want two multipaths, one best", vip, paths)
		}

		s1.Stop(5 * time.Second)
		r.WaitNexthops(t, vip, []netip.Addr{n2.Addr}, 30*time.Second)
		if paths := r.BGPPaths(t, other); len(paths) != 0 {
			t.Errorf("router accepted %s from outside %s: %+v", other, AnnounceNet, paths)
		}
		if hops := r.Nexthops(t, other); len(hops) != 0 {
			t.Errorf("router installed %s from outside %s via %v", other, AnnounceNet, hops)
		}
	})
	if clientNS != "" {
		if got := namespacesWithPrefix(t, clientNS); len(got) != 0 {
			t.Errorf("client namespace left after the lab: %v", got)
		}
	}
}
