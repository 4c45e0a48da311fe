package netlab

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Do runs fn on an OS thread switched into n's namespace. Sockets fn opens
// stay in the namespace after Do returns, so a test can open them here and use
// them from any goroutine. If the thread cannot be switched back it is thrown
// away rather than returned to the Go scheduler in the wrong namespace.
func (n *Node) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Deliberately no UnlockOSThread unless the thread is restored: a
		// goroutine that exits while locked takes its thread with it.
		origin, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("reading current namespace: %w", err)
			return
		}
		defer origin.Close()
		target, err := netns.GetFromName(n.Name)
		if err != nil {
			errc <- fmt.Errorf("opening namespace %s: %w", n.Name, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("entering namespace %s: %w", n.Name, err)
			return
		}
		fnErr := fn()
		if err := netns.Set(origin); err != nil {
			errc <- fmt.Errorf("leaving namespace %s: %w (after fn returned %v)", n.Name, err, fnErr)
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

// netlinkHandle returns a netlink handle whose socket lives in n's namespace,
// which needs no thread switching; the caller closes it.
func (n *Node) netlinkHandle() (*netlink.Handle, error) {
	ns, err := netns.GetFromName(n.Name)
	if err != nil {
		return nil, fmt.Errorf("opening namespace %s: %w", n.Name, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in namespace %s: %w", n.Name, err)
	}
	return h, nil
}

// Addresses lists the IPv4 addresses (with prefix length) on n.Iface.
func (n *Node) Addresses() ([]netip.Prefix, error) {
	return n.addressesOf(netlink.FAMILY_V4)
}

// addressesOf lists n.Iface's addresses of one family.
func (n *Node) addressesOf(family int) ([]netip.Prefix, error) {
	h, err := n.netlinkHandle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	link, err := h.LinkByName(n.Iface)
	if err != nil {
		return nil, fmt.Errorf("%s: finding %s: %w", n.Name, n.Iface, err)
	}
	addrs, err := h.AddrList(link, family)
	if err != nil {
		return nil, fmt.Errorf("%s: listing addresses of %s: %w", n.Name, n.Iface, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		bits, _ := a.Mask.Size()
		if family == netlink.FAMILY_V4 {
			ip = ip.Unmap()
		}
		out = append(out, netip.PrefixFrom(ip, bits))
	}
	return out, nil
}

// hasAddress reports whether addr is configured on n.Iface.
func (n *Node) hasAddress(addr netip.Addr) (bool, error) {
	prefixes, err := n.Addresses()
	if addr.Is6() {
		prefixes, err = n.Addresses6()
	}
	if err != nil {
		return false, err
	}
	for _, p := range prefixes {
		if p.Addr() == addr {
			return true, nil
		}
	}
	return false, nil
}

// HasAddress reports whether addr is configured on n.Iface; it fails the test
// when the addresses cannot be read.
func (n *Node) HasAddress(t testing.TB, addr netip.Addr) bool {
	t.Helper()
	ok, err := n.hasAddress(addr)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// WaitAddress polls every 10ms until addr is (present=true) or is not
// (present=false) configured on n.Iface, and returns an error on timeout.
func (n *Node) WaitAddress(t testing.TB, addr netip.Addr, present bool, timeout time.Duration) error {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := n.hasAddress(addr)
		if err != nil {
			return err
		}
		if ok == present {
			return nil
		}
		if time.Now().After(deadline) {
			want := "appear on"
			if !present {
				want = "leave"
			}
			return fmt.Errorf("%s: %s did not %s %s within %v", n.Name, addr, want, n.Iface, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ARPNeighbour returns the MAC address n's neighbour table holds for addr on
// n.Iface; ok is false when there is no usable entry (none, incomplete or
// failed). Tests use it to see a gratuitous ARP move the client's cache.
func (n *Node) ARPNeighbour(t testing.TB, addr netip.Addr) (mac string, ok bool) {
	t.Helper()
	mac, ok, err := n.arpNeighbour(addr)
	if err != nil {
		t.Fatal(err)
	}
	return mac, ok
}

func (n *Node) arpNeighbour(addr netip.Addr) (string, bool, error) {
	h, err := n.netlinkHandle()
	if err != nil {
		return "", false, err
	}
	defer h.Close()
	link, err := h.LinkByName(n.Iface)
	if err != nil {
		return "", false, fmt.Errorf("%s: finding %s: %w", n.Name, n.Iface, err)
	}
	family := netlink.FAMILY_V4
	if addr.Is6() {
		family = netlink.FAMILY_V6 // the neighbour cache of NDP
	}
	neighs, err := h.NeighList(link.Attrs().Index, family)
	if err != nil {
		return "", false, fmt.Errorf("%s: listing neighbours on %s: %w", n.Name, n.Iface, err)
	}
	const unusable = unix.NUD_INCOMPLETE | unix.NUD_FAILED
	for _, nb := range neighs {
		ip, ok := netip.AddrFromSlice(nb.IP)
		if !ok || ip.Unmap() != addr {
			continue
		}
		if nb.State&unusable != 0 || nb.State == unix.NUD_NONE || len(nb.HardwareAddr) == 0 {
			return "", false, nil
		}
		return nb.HardwareAddr.String(), true, nil
	}
	return "", false, nil
}

// MAC returns the hardware address of n.Iface.
func (n *Node) MAC(t testing.TB) string {
	t.Helper()
	h, err := n.netlinkHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName(n.Iface)
	if err != nil {
		t.Fatalf("%s: finding %s: %v", n.Name, n.Iface, err)
	}
	return link.Attrs().HardwareAddr.String()
}
