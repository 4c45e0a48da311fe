package netlab

import (
	"fmt"
	"net/netip"
	"os"
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

// noDAD turns duplicate address detection off for the given interfaces
// (or "default", "all") of namespace ns, writing /proc/sys from a thread
// inside it: cheaper than `ip netns exec … sysctl`, which under the load of
// many parallel labs took longer than a command may.
func noDAD(ns string, ifaces ...string) error {
	return (&Node{Name: ns}).Do(func() error {
		for _, i := range ifaces {
			p := "/proc/sys/net/ipv6/conf/" + i + "/accept_dad"
			if err := os.WriteFile(p, []byte("0"), 0o644); err != nil {
				return fmt.Errorf("%s: %w", ns, err)
			}
		}
		return nil
	})
}
