// Package vmac creates and removes the macvlan interface that holds an
// instance's addresses under the RFC's virtual MAC (keepalived's use_vmac):
// 00:00:5e:00:01:VRID for IPv4 (RFC 3768 7.3), 00:00:5e:00:02:VRID for IPv6
// (RFC 5798 7.3). Clients then keep one MAC for the VIP whichever node
// holds it, so a failover needs no cache update to reach them.
//
// The interface is a macvlan in private mode on the instance's interface,
// as keepalived makes it, named vrrp.VRID (vrrp6.VRID for IPv6). It stays up
// on every node; only the master puts addresses on it and sends from it.
package vmac

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// MAC returns the virtual router MAC address of vrid for the family.
func MAC(vrid uint8, ipv6 bool) net.HardwareAddr {
	family := byte(0x01)
	if ipv6 {
		family = 0x02
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, family, vrid}
}

// silence takes from an IPv4 instance's macvlan, left by a build that let
// the kernel make one, its IPv6 addresses: they would send from the virtual
// MAC on a backup too. Best effort: a kernel without IPv6 has none.
func silence(l netlink.Link) {
	_ = netlink.LinkSetIP6AddrGenMode(l, 1) // IN6_ADDR_GEN_MODE_NONE
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V6)
	if err != nil {
		return
	}
	for _, a := range addrs {
		_ = netlink.AddrDel(l, &a)
	}
}

// isVirtualRouterMAC reports whether mac is one of RFC 5798's virtual
// router MACs (00:00:5e:00:01:XX or 00:00:5e:00:02:XX).
func isVirtualRouterMAC(mac net.HardwareAddr) bool {
	return len(mac) == 6 && mac[0] == 0 && mac[1] == 0 && mac[2] == 0x5e && mac[3] == 0 && (mac[4] == 1 || mac[4] == 2)
}

// Create makes (or takes over, after a crash) the macvlan of vrid on
// parent, called name (config.Instance.VMACName), in the calling thread's
// network namespace, brings it up and returns its name. An interface of that name
// that is not a macvlan with a virtual router's MAC is left alone: Create
// fails rather than delete what is not its own.
//
// The macvlan generates no IPv6 address of its own, so that a backup's
// macvlan stays silent. For IPv4, parent gets arp_ignore = 1, as keepalived
// sets it (otherwise the parent would answer ARP for the VIP with its own
// MAC), and arp_announce = 2. For IPv6 the macvlan gets parent's
// link-local address, which adverts are sent from, as keepalived does.
func Create(parent, name string, vrid uint8, ipv6 bool) (string, error) {
	pl, err := netlink.LinkByName(parent)
	if err != nil {
		return "", fmt.Errorf("creating %s: finding %s: %w", name, parent, err)
	}
	if old, err := netlink.LinkByName(name); err == nil {
		// Left by a previous run, or still used by the instance a reload
		// replaces: taken over as it is when it is what we would make,
		// made again otherwise.
		if old.Type() == "macvlan" && old.Attrs().ParentIndex == pl.Attrs().Index &&
			old.Attrs().HardwareAddr.String() == MAC(vrid, ipv6).String() {
			if !ipv6 {
				silence(old)
			}
			return name, netlink.LinkSetUp(old)
		}
		if old.Type() != "macvlan" || !isVirtualRouterMAC(old.Attrs().HardwareAddr) {
			return "", fmt.Errorf("creating %s: an interface of that name exists (%s, MAC %s) and is not a virtual router's macvlan; "+
				"give vmac_interface another name", name, old.Type(), old.Attrs().HardwareAddr)
		}
		if err := netlink.LinkDel(old); err != nil {
			return "", fmt.Errorf("replacing stale %s: %w", name, err)
		}
	}
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: pl.Attrs().Index, HardwareAddr: MAC(vrid, ipv6)},
		Mode:      netlink.MACVLAN_MODE_PRIVATE,
	}
	if err := netlink.LinkAdd(mv); err != nil {
		return "", fmt.Errorf("creating %s on %s: %w", name, parent, err)
	}
	fail := func(err error) (string, error) {
		netlink.LinkDel(mv)
		return "", fmt.Errorf("setting up %s on %s: %w", name, parent, err)
	}
	// No address of its own in either family: a link-local address made
	// from the virtual MAC (the same on every node) would send DAD and MLD
	// from that MAC, also on a backup, and the segment's switches would
	// send the master's traffic to the backup until the master sends again.
	// A kernel without IPv6 (ipv6.disable=1) refuses the setting, and has
	// no address to make either: only an IPv6 instance needs it.
	if err := netlink.LinkSetIP6AddrGenMode(mv, 1); err != nil && ipv6 { // IN6_ADDR_GEN_MODE_NONE
		return fail(err)
	}
	if ipv6 {
		if err := sysctl("ipv6", name, "accept_dad", "0"); err != nil {
			return fail(err)
		}
	} else {
		// arp_announce = 2: ARP requests of the parent's own (to reach a
		// client) must not carry the VIP as sender, or the client would
		// learn the parent's MAC for it.
		for _, kv := range [][2]string{{"arp_ignore", "1"}, {"arp_announce", "2"}} {
			if err := sysctl("ipv4", parent, kv[0], kv[1]); err != nil {
				return fail(err)
			}
		}
		for _, kv := range [][2]string{{"arp_ignore", "1"}, {"rp_filter", "0"}, {"accept_local", "1"}} {
			if err := sysctl("ipv4", name, kv[0], kv[1]); err != nil {
				return fail(err)
			}
		}
	}
	if err := netlink.LinkSetUp(mv); err != nil {
		return fail(err)
	}
	if ipv6 {
		ll, err := linkLocal(pl)
		if err != nil {
			return fail(err)
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: ll.AsSlice(), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD}
		if err := netlink.AddrAdd(mv, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return fail(err)
		}
	}
	return name, nil
}

// Remove deletes the macvlan; one already gone is success.
func Remove(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("removing %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("removing %s: %w", name, err)
	}
	return nil
}

func linkLocal(l netlink.Link) (netip.Addr, error) {
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V6)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.IsLinkLocalUnicast() {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%s has no IPv6 link-local address", l.Attrs().Name)
}

// sysctl writes /proc/sys/net/FAMILY/conf/IFACE/KEY in the calling
// thread's network namespace.
func sysctl(family, iface, key, value string) error {
	p := "/proc/sys/net/" + family + "/conf/" + iface + "/" + key
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("setting %s: %w", p, err)
	}
	return nil
}
