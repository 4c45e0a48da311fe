package netlab

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// Addresses6 lists the IPv6 addresses on n.Iface (its link-local one, its
// Addr6 and any virtual ones), with their prefix lengths.
func (n *Node) Addresses6() ([]netip.Prefix, error) {
	return n.addressesOf(netlink.FAMILY_V6)
}

// HoldsAnywhere reports whether addr is on any interface of n (a macvlan
// of keepalived's use_vmac, for one); it fails the test when the addresses
// cannot be read.
func (n *Node) HoldsAnywhere(t testing.TB, addr netip.Addr) bool {
	t.Helper()
	out := n.Run(t, "ip", "-o", "addr", "show", "to", addr.String())
	return strings.TrimSpace(out) != ""
}
