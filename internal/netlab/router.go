package netlab

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// The routed side of a BGP lab: the segment behind the router, where its
// client lives, and the range the nodes announce their VIPs from. Both come
// from 203.0.113.0/24, which never leaves the lab's namespaces.
var (
	// BehindNet is the segment between the router and its client.
	BehindNet = netip.MustParsePrefix("203.0.113.0/26")
	// BehindRouterAddr is the router's address on BehindNet.
	BehindRouterAddr = netip.MustParseAddr("203.0.113.1")
	// BehindClientAddr is the client's address on BehindNet.
	BehindClientAddr = netip.MustParseAddr("203.0.113.2")
	// AnnounceNet holds the prefixes the router accepts from the nodes:
	// host routes (/32) only, such as 203.0.113.100/32.
	AnnounceNet = netip.MustParsePrefix("203.0.113.64/26")

	// BehindNet6 is the IPv6 side of BehindNet. It is narrower than a /64
	// so that AnnounceNet6 lies outside it: the client must send packets for
	// an announced address to the router, not look for it on its own link.
	BehindNet6 = netip.MustParsePrefix("2001:db8:52::/120")
	// BehindRouterAddr6 is the router's IPv6 address on BehindNet6.
	BehindRouterAddr6 = netip.MustParseAddr("2001:db8:52::1")
	// BehindClientAddr6 is the client's IPv6 address on BehindNet6.
	BehindClientAddr6 = netip.MustParseAddr("2001:db8:52::2")
	// AnnounceNet6 holds the IPv6 prefixes the router accepts from the
	// nodes: host routes (/128) only, such as 2001:db8:52::100/128.
	AnnounceNet6 = netip.MustParsePrefix("2001:db8:52::100/120")
)

const (
	// routerBehindIface is the router's interface towards its client.
	routerBehindIface = "eth1"
	// behindSuffix names the client's namespace: a number no node uses
	// (nodes count from 1), so that sweepStale also removes it after a
	// test binary was killed.
	behindSuffix = "0"
	// zebraStartTimeout bounds how long zebra and bgpd get to start and
	// find each other on a loaded machine.
	zebraStartTimeout = 20 * time.Second
)

// RouterConfig is what the router's bgpd is told: its own AS, and the nodes
// it accepts as eBGP peers.
type RouterConfig struct {
	// ASN is the router's AS (e.g. 65000).
	ASN uint32
	// PeerASN is the AS of every node (e.g. 65010).
	PeerASN uint32
	// Peers are the nodes' addresses on the segment: IPv4 sessions, for
	// IPv4 routes.
	Peers []netip.Addr
	// Peers6 are the nodes' IPv6 addresses on the segment (Node.Addr6):
	// IPv6 sessions, for IPv6 routes only (none: the router speaks IPv4
	// only).
	Peers6 []netip.Addr
	// Extra is added as is at the end of the "router bgp" block, before its
	// address family (e.g. " neighbor hasidecar timers 3 9\n").
	Extra string
}

// BGPDConfig renders c as bgpd's configuration for a router whose BGP
// identifier is id: one peer group for the nodes' IPv4 sessions (IPv4
// routes) and, with Peers6, one for their IPv6 sessions (IPv6 routes); only
// host routes from AnnounceNet and AnnounceNet6 accepted from them; up to
// eight equal paths installed (ECMP across the healthy nodes).
func (c RouterConfig) BGPDConfig(id netip.Addr) string {
	var b strings.Builder
	fmt.Fprintf(&b, "frr defaults traditional\nhostname router\n!\n")
	fmt.Fprintf(&b, "ip prefix-list hasidecar-vips seq 5 permit %s ge 32\n!\n", AnnounceNet)
	if len(c.Peers6) > 0 {
		fmt.Fprintf(&b, "ipv6 prefix-list hasidecar-vips6 seq 5 permit %s ge 128\n!\n", AnnounceNet6)
		// A next hop on the segment's global range, as the nodes send it,
		// even from a speaker that also sends its link-local one: the
		// kernel route then names the node's Addr6.
		b.WriteString("route-map hasidecar6-in permit 10\n set ipv6 next-hop prefer-global\n!\n")
	}
	fmt.Fprintf(&b, "router bgp %d\n bgp router-id %s\n", c.ASN, id)
	// FRR refuses eBGP routes without an explicit policy unless told not to;
	// the prefix list below is the policy that matters.
	b.WriteString(" no bgp ebgp-requires-policy\n")
	// Nodes in different ASes still share the load.
	b.WriteString(" bgp bestpath as-path multipath-relax\n")
	b.WriteString(" neighbor hasidecar peer-group\n")
	fmt.Fprintf(&b, " neighbor hasidecar remote-as %d\n", c.PeerASN)
	for _, p := range c.Peers {
		fmt.Fprintf(&b, " neighbor %s peer-group hasidecar\n", p)
	}
	if len(c.Peers6) > 0 {
		b.WriteString(" neighbor hasidecar6 peer-group\n")
		fmt.Fprintf(&b, " neighbor hasidecar6 remote-as %d\n", c.PeerASN)
		for _, p := range c.Peers6 {
			fmt.Fprintf(&b, " neighbor %s peer-group hasidecar6\n", p)
		}
	}
	b.WriteString(c.Extra)
	b.WriteString(" !\n address-family ipv4 unicast\n")
	b.WriteString("  maximum-paths 8\n")
	b.WriteString("  neighbor hasidecar prefix-list hasidecar-vips in\n")
	if len(c.Peers6) > 0 {
		// FRR's traditional defaults activate IPv4 on every session.
		b.WriteString("  no neighbor hasidecar6 activate\n")
	}
	b.WriteString(" exit-address-family\n")
	if len(c.Peers6) > 0 {
		b.WriteString(" !\n address-family ipv6 unicast\n")
		b.WriteString("  maximum-paths 8\n")
		b.WriteString("  neighbor hasidecar6 activate\n")
		b.WriteString("  neighbor hasidecar6 prefix-list hasidecar-vips6 in\n")
		b.WriteString("  neighbor hasidecar6 route-map hasidecar6-in in\n")
		b.WriteString(" exit-address-family\n")
	}
	return b.String()
}

// Router is a lab node routing between the segment and a second segment
// behind it: FRRouting's zebra and bgpd run in its namespace, and what bgpd
// learns from the nodes is installed in its kernel, so that its client
// reaches a VIP announced by a node through it.
type Router struct {
	// Node is the router's namespace, on the segment.
	*Node
	// BGPD is the router's bgpd (Show, WaitShow).
	BGPD *BGPD
	// Zebra is the router's zebra, installing bgpd's routes in the kernel.
	Zebra *Process
	// Client is a node behind the router (BehindClientAddr on its eth0,
	// default route via the router); it has no switch port.
	Client *Node

	dir, zserv, config string // FRR's files, zebra's socket, bgpd's configuration
}

// StartRouter makes n the lab's router: it forwards (hashing flows over
// equal paths by their ports, so that a client's connections spread), runs
// zebra and bgpd with c as their own processes and files, gets a client
// behind it on BehindNet, and every other node gets a route to BehindNet via
// n. Everything goes with the lab.
func (l *Lab) StartRouter(t testing.TB, n *Node, c RouterConfig) *Router {
	t.Helper()
	RequireFRR(t)
	if n.lab != l {
		t.Fatalf("netlab.StartRouter: node %s is not part of lab %s", n.Name, l.Prefix)
	}
	n.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1",
		"net.ipv6.conf.all.forwarding=1", "net.ipv6.fib_multipath_hash_policy=1")

	client := &Node{
		Name:   l.Prefix + behindSuffix,
		Addr:   BehindClientAddr,
		Prefix: netip.PrefixFrom(BehindClientAddr, BehindNet.Bits()),
		Iface:  nodeIface,
		lab:    l,
	}
	if err := l.addNamespace(client.Name); err != nil {
		t.Fatalf("netlab.StartRouter: %v", err)
	}
	l.mustIP(t, "-n", n.Name, "link", "add", routerBehindIface, "type", "veth",
		"peer", "name", client.Iface, "netns", client.Name)
	l.mustIP(t, "-n", n.Name, "addr", "add", netip.PrefixFrom(BehindRouterAddr, BehindNet.Bits()).String(), "dev", routerBehindIface)
	l.mustIP(t, "-n", n.Name, "addr", "add", netip.PrefixFrom(BehindRouterAddr6, BehindNet6.Bits()).String(), "dev", routerBehindIface, "nodad")
	l.mustIP(t, "-n", n.Name, "link", "set", routerBehindIface, "up")
	l.mustIP(t, "-n", client.Name, "link", "set", "lo", "up")
	l.mustIP(t, "-n", client.Name, "addr", "add", client.Prefix.String(), "dev", client.Iface)
	client.Addr6 = BehindClientAddr6
	l.mustIP(t, "-n", client.Name, "addr", "add", netip.PrefixFrom(BehindClientAddr6, BehindNet6.Bits()).String(), "dev", client.Iface, "nodad")
	l.mustIP(t, "-n", client.Name, "link", "set", client.Iface, "up")
	l.mustIP(t, "-n", client.Name, "route", "add", "default", "via", BehindRouterAddr.String())
	l.mustIP(t, "-n", client.Name, "-6", "route", "add", "default", "via", BehindRouterAddr6.String())
	for _, o := range l.Nodes {
		if o != n {
			l.mustIP(t, "-n", o.Name, "route", "add", BehindNet.String(), "via", n.Addr.String())
			l.mustIP(t, "-n", o.Name, "-6", "route", "add", BehindNet6.String(), "via", n.Addr6.String())
		}
	}

	dir := frrUserDir(t)
	zebra, zserv := startZebra(t, n, dir)
	r := &Router{Node: n, Zebra: zebra, Client: client, dir: dir, zserv: zserv, config: c.BGPDConfig(n.Addr)}
	r.startBGPD(t)
	return r
}

// startBGPD starts the router's bgpd and waits until zebra counts it as a
// client: before that it installs nothing.
func (r *Router) startBGPD(t testing.TB) {
	t.Helper()
	r.BGPD = r.Node.startBGPD(t, r.dir, r.config, r.zserv)
	for end := time.Now().Add(zebraStartTimeout); ; time.Sleep(100 * time.Millisecond) {
		out, err := r.vtysh("zebra", "show zebra client summary")
		if err == nil && strings.Contains(out, "bgp") {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("bgpd never became zebra's client (%v):\n%s\nzebra log:\n%s\nbgpd log:\n%s", err, out, r.Zebra.Log(), r.BGPD.Log())
		}
	}
}

// RestartBGPD stops the router's bgpd (its sessions and routes go) and
// starts it again with the same configuration: "the router comes back".
func (r *Router) RestartBGPD(t testing.TB) {
	t.Helper()
	r.BGPD.Stop(killGrace)
	// The new bgpd is ready when it has made its own vty socket.
	os.Remove(filepath.Join(r.dir, "bgpd.vty"))
	r.startBGPD(t)
}

// frrUserDir is a directory for a router's FRR files that zebra, running as
// the frr user, can write; t.TempDir's parent is closed to other users.
func frrUserDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hasidecar-frr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	u, err := user.Lookup("frr")
	if err != nil {
		t.Fatalf("FRR's user: %v (Debian's frr package creates it)", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// vtysh runs one command against one of the router's daemons.
func (r *Router) vtysh(daemon, command string) (string, error) {
	return vtysh(r.Node, r.BGPD.dir, daemon, command)
}

// Nexthops returns the gateways of the router's kernel route to exactly
// prefix (several for an ECMP route), sorted; none when there is no route.
func (r *Router) Nexthops(t testing.TB, prefix netip.Prefix) []netip.Addr {
	t.Helper()
	hops, err := r.nexthops(prefix)
	if err != nil {
		t.Fatal(err)
	}
	return hops
}

func (r *Router) nexthops(prefix netip.Prefix) ([]netip.Addr, error) {
	h, err := r.netlinkHandle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	dst := &net.IPNet{IP: prefix.Addr().AsSlice(), Mask: net.CIDRMask(prefix.Bits(), prefix.Addr().BitLen())}
	family := netlink.FAMILY_V4
	if prefix.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	routes, err := h.RouteListFiltered(family, &netlink.Route{Dst: dst}, netlink.RT_FILTER_DST)
	if err != nil {
		return nil, fmt.Errorf("%s: listing routes to %s: %w", r.Name, prefix, err)
	}
	var out []netip.Addr
	add := func(ip net.IP) {
		if a, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, a.Unmap())
		}
	}
	for _, rt := range routes {
		if rt.Dst == nil || rt.Dst.String() != dst.String() {
			continue
		}
		if rt.Gw != nil {
			add(rt.Gw)
		}
		for _, nh := range rt.MultiPath {
			add(nh.Gw)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, nil
}

// WaitNexthops polls every 20 ms until the router's kernel route to prefix
// goes via exactly want (none: no route), and returns how long that took.
func (r *Router) WaitNexthops(t testing.TB, prefix netip.Prefix, want []netip.Addr, timeout time.Duration) time.Duration {
	t.Helper()
	want = slices.Clone(want)
	slices.SortFunc(want, netip.Addr.Compare)
	start := time.Now()
	var got []netip.Addr
	for {
		var err error
		got, err = r.nexthops(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(got, want) {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	bgp, _ := r.vtysh("bgpd", "show bgp "+afi(prefix)+" unicast "+prefix.String())
	t.Fatalf("after %v the router's route to %s goes via %v, not %v\n%s\nkernel:\n%s", timeout, prefix, got, want, bgp, r.KernelRoute(t, prefix))
	return 0
}

// BGPPath is one path to a prefix in the router's BGP table.
type BGPPath struct {
	// Peer is the node the path was learned from.
	Peer netip.Addr
	// MED is the path's multi-exit discriminator (0 when absent).
	MED uint32
	// Best is the path bgpd selected; Multipath, one installed beside it.
	Best, Multipath bool
}

// BGPPaths lists the paths to prefix in the router's BGP table (none when
// it has none), in bgpd's order.
func (r *Router) BGPPaths(t testing.TB, prefix netip.Prefix) []BGPPath {
	t.Helper()
	out := r.BGPD.Show(t, "show bgp "+afi(prefix)+" unicast "+prefix.String()+" json")
	var entry struct {
		Paths []struct {
			Metric    uint32 `json:"metric"`
			Multipath bool   `json:"multipath"`
			Bestpath  *struct {
				Overall bool `json:"overall"`
			} `json:"bestpath"`
			Peer struct {
				PeerID string `json:"peerId"`
			} `json:"peer"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(out), &entry); err != nil {
		t.Fatalf("%s: bgpd's JSON for %s: %v\n%s", r.Name, prefix, err, out)
	}
	var paths []BGPPath
	for _, p := range entry.Paths {
		peer, err := netip.ParseAddr(p.Peer.PeerID)
		if err != nil {
			t.Fatalf("%s: bgpd's path to %s from %q: %v", r.Name, prefix, p.Peer.PeerID, err)
		}
		paths = append(paths, BGPPath{Peer: peer, MED: p.Metric, Best: p.Bestpath != nil && p.Bestpath.Overall, Multipath: p.Multipath})
	}
	return paths
}

// afi is bgpd's name of prefix's address family.
func afi(prefix netip.Prefix) string {
	if prefix.Addr().Is6() {
		return "ipv6"
	}
	return "ipv4"
}

// KernelRoute is `ip route show PREFIX` in the router's namespace, for logs.
func (r *Router) KernelRoute(t testing.TB, prefix netip.Prefix) string {
	t.Helper()
	family := "-4"
	if prefix.Addr().Is6() {
		family = "-6"
	}
	out, err := runIP("-n", r.Name, family, "route", "show", prefix.String())
	if err != nil {
		t.Fatal(err)
	}
	return out
}
