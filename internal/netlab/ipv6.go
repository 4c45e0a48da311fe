package netlab

import (
	"net/netip"

	"github.com/vishvananda/netlink"
)

// Addresses6 lists the IPv6 addresses on n.Iface (its link-local one, its
// Addr6 and any virtual ones), with their prefix lengths.
func (n *Node) Addresses6() ([]netip.Prefix, error) {
	return n.addressesOf(netlink.FAMILY_V6)
}
