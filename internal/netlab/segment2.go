package netlab

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// secondSegment is the lab's second L2 segment (sync groups with members on
// two interfaces), on its own bridge in the switch namespace.
var secondSegment = netip.MustParsePrefix("203.0.113.0/24")

const (
	secondBridge = "seg2" // not br<N>: Partition owns those names
	secondIface  = "eth1"
)

// AddSecondSegment gives every node (not the client) a second interface,
// eth1 = 203.0.113.<host>/24, on a second bridge of the switch namespace.
// SecondPortDown / SecondPortUp take a node's port on it down and up.
func (l *Lab) AddSecondSegment(t testing.TB) {
	t.Helper()
	l.mustIP(t, "-n", l.Switch, "link", "add", secondBridge, "type", "bridge",
		"forward_delay", "0", "mcast_snooping", "0")
	l.mustIP(t, "-n", l.Switch, "link", "set", secondBridge, "up")
	for _, n := range l.Nodes {
		port := secondPort(n)
		host := n.Addr.As4()[3]
		addr := SecondAddress(int(host))
		l.mustIP(t, "-n", l.Switch, "link", "add", port, "type", "veth", "peer", "name", secondIface, "netns", n.Name)
		l.mustIP(t, "-n", l.Switch, "link", "set", port, "master", secondBridge, "up")
		l.mustIP(t, "-n", n.Name, "addr", "add", netip.PrefixFrom(addr, secondSegment.Bits()).String(), "dev", secondIface)
		l.mustIP(t, "-n", n.Name, "link", "set", secondIface, "up")
	}
}

// SecondAddress is the second segment's address with the given last octet.
func SecondAddress(host int) netip.Addr {
	a := secondSegment.Addr().As4()
	a[3] = byte(host)
	return netip.AddrFrom4(a)
}

// SecondIface is the node-side interface on the second segment.
func SecondIface() string { return secondIface }

// SecondPortDown takes n's port on the second segment down: n's eth1 loses
// its carrier.
func (l *Lab) SecondPortDown(t testing.TB, n *Node) {
	t.Helper()
	l.mustIP(t, "-n", l.Switch, "link", "set", secondPort(n), "down")
}

// SecondPortUp brings n's port on the second segment back.
func (l *Lab) SecondPortUp(t testing.TB, n *Node) {
	t.Helper()
	l.mustIP(t, "-n", l.Switch, "link", "set", secondPort(n), "up")
}

func secondPort(n *Node) string { return "q" + strings.TrimPrefix(n.Port, "p") }

// HasAddressOn reports whether addr is configured on n's interface iface;
// it fails the test when the addresses cannot be read.
func (n *Node) HasAddressOn(t testing.TB, iface string, addr netip.Addr) bool {
	t.Helper()
	h, err := n.netlinkHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName(iface)
	if err != nil {
		t.Fatalf("%s: finding %s: %v", n.Name, iface, err)
	}
	addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("%s: listing addresses of %s: %v", n.Name, iface, err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == addr {
			return true
		}
	}
	return false
}

// IfaceFor is the node interface whose segment holds addr: eth1 for the
// second segment, eth0 otherwise.
func IfaceFor(addr netip.Addr) string {
	if secondSegment.Contains(addr) {
		return secondIface
	}
	return nodeIface
}
