// Package vip adds and removes virtual addresses on one interface, as
// keepalived does while it is master: plain addresses with no label and no
// broadcast address, so that the kernel's own routes are the only side
// effect. IPv6 ones are added without duplicate address detection
// (IFA_F_NODAD), so that they are usable at once rather than tentative.
package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Manager owns the virtual addresses of one interface. Its netlink socket
// lives in the network namespace of the thread that called New; after that
// it may be used from any goroutine.
type Manager struct {
	iface string
	log   *zap.Logger

	mu    sync.Mutex
	nl    *netlink.Handle
	added map[netip.Prefix]bool // addresses passed to Add: the virtual ones
}

// New returns a Manager for the interface named iface in the current
// network namespace. The interface must exist.
func New(iface string, log *zap.Logger) (*Manager, error) {
	if iface == "" {
		return nil, errors.New("managing virtual addresses: no interface given")
	}
	if log == nil {
		log = zap.NewNop()
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening netlink for virtual addresses on %s: %w", iface, err)
	}
	if _, err := h.LinkByName(iface); err != nil {
		h.Close()
		return nil, fmt.Errorf("managing virtual addresses: finding interface %s: %w", iface, err)
	}
	return &Manager{
		iface: iface,
		log:   log.With(zap.String("interface", iface)),
		nl:    h,
		added: map[netip.Prefix]bool{},
	}, nil
}

// Close releases the netlink socket. Addresses stay as they are.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nl != nil {
		m.nl.Close()
		m.nl = nil
	}
	return nil
}

// Add puts p (address and prefix length) on the interface. An address that
// is already there with the same prefix length is success. An address in
// the subnet of an existing one becomes a secondary address, as with
// `ip addr add`.
func (m *Manager) Add(p netip.Prefix) error {
	p, err := checkPrefix(p)
	if err != nil {
		return fmt.Errorf("adding virtual address on %s: %w", m.iface, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	link, err := m.link()
	if err != nil {
		return fmt.Errorf("adding %s: %w", p, err)
	}
	err = m.nl.AddrAdd(link, toNetlink(p))
	switch {
	case errors.Is(err, unix.EEXIST):
		m.added[p] = true
		m.log.Debug("virtual address already present", zap.Stringer("address", p))
		return nil
	case err != nil:
		return fmt.Errorf("adding %s to %s: %w", p, m.iface, err)
	}
	m.added[p] = true
	m.log.Info("added virtual address", zap.Stringer("address", p))
	return nil
}

// Remove takes p (address and prefix length) off the interface; an address
// that is not there is success.
//
// Only the exact address (IP and prefix length) is removed. A virtual IP in
// the subnet of the node's own address is a secondary address, and removing
// it leaves the primary alone. Removing a primary address, however, makes
// the kernel remove the secondary addresses of its subnet too (unless
// promote_secondaries is set): Remove refuses that, changing nothing, when
// one of those secondaries was never passed to Add, because it is not a
// virtual address of ours.
func (m *Manager) Remove(p netip.Prefix) error {
	p, err := checkPrefix(p)
	if err != nil {
		return fmt.Errorf("removing virtual address from %s: %w", m.iface, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	link, err := m.link()
	if err != nil {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	addrs, err := m.nl.AddrList(link, family(p))
	if err != nil {
		return fmt.Errorf("removing %s: listing addresses of %s: %w", p, m.iface, err)
	}
	current := toPrefixes(addrs)
	if err := m.checkRemovable(p, current); err != nil {
		return err
	}
	err = m.nl.AddrDel(link, toNetlink(p))
	switch {
	case errors.Is(err, unix.EADDRNOTAVAIL):
		m.log.Debug("virtual address already absent", zap.Stringer("address", p))
	case err != nil:
		return fmt.Errorf("removing %s from %s: %w", p, m.iface, err)
	default:
		m.log.Info("removed virtual address", zap.Stringer("address", p))
	}
	delete(m.added, p)
	return nil
}

// address is one address of the interface as the kernel reports it.
type address struct {
	prefix    netip.Prefix
	secondary bool
}

// checkRemovable refuses a removal that would make the kernel take
// addresses that are not ours along with p.
func (m *Manager) checkRemovable(p netip.Prefix, current []address) error {
	primary := false
	for _, a := range current {
		if a.prefix == p && !a.secondary {
			primary = true
		}
	}
	if !primary {
		return nil
	}
	for _, a := range current {
		if a.secondary && a.prefix.Masked() == p.Masked() && !m.added[a.prefix] {
			return fmt.Errorf("refusing to remove %s from %s: it is the primary address of %s and the kernel would also remove %s",
				p, m.iface, p.Masked(), a.prefix)
		}
	}
	return nil
}

// Has reports whether p (address and prefix length) is on the interface.
func (m *Manager) Has(p netip.Prefix) (bool, error) {
	p, err := checkPrefix(p)
	if err != nil {
		return false, fmt.Errorf("looking for virtual address on %s: %w", m.iface, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	link, err := m.link()
	if err != nil {
		return false, fmt.Errorf("looking for %s: %w", p, err)
	}
	addrs, err := m.nl.AddrList(link, family(p))
	if err != nil {
		return false, fmt.Errorf("looking for %s: listing addresses of %s: %w", p, m.iface, err)
	}
	for _, a := range toPrefixes(addrs) {
		if a.prefix == p {
			return true, nil
		}
	}
	return false, nil
}

// link looks the interface up on every call: it may have been recreated
// with a new index since New. The caller holds m.mu.
func (m *Manager) link() (netlink.Link, error) {
	if m.nl == nil {
		return nil, fmt.Errorf("virtual address manager of %s is closed", m.iface)
	}
	link, err := m.nl.LinkByName(m.iface)
	if err != nil {
		return nil, fmt.Errorf("finding interface %s: %w", m.iface, err)
	}
	return link, nil
}

// family is the netlink address family of p.
func family(p netip.Prefix) int {
	if p.Addr().Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// checkPrefix accepts an IPv4 or IPv6 host address with a prefix length;
// the address is kept as given, not masked (198.51.100.100/24 stays so).
func checkPrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("invalid address %q", p)
	}
	if a := p.Addr(); a.Is6() && !a.Is4In6() {
		if a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%s cannot be a virtual address", p)
		}
		return p, nil
	}
	addr := p.Addr().Unmap()
	if addr.IsUnspecified() || addr.IsMulticast() || addr.IsLoopback() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.Prefix{}, fmt.Errorf("%s cannot be a virtual address", p)
	}
	bits := p.Bits()
	if p.Addr().Is4In6() {
		bits -= 96
	}
	if bits < 0 {
		return netip.Prefix{}, fmt.Errorf("invalid prefix length in %s", p)
	}
	return netip.PrefixFrom(addr, bits), nil
}

func toNetlink(p netip.Prefix) *netlink.Addr {
	if !p.Addr().Is4() {
		return &netlink.Addr{
			IPNet: &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), 128)},
			Flags: unix.IFA_F_NODAD,
		}
	}
	return &netlink.Addr{
		IPNet: &net.IPNet{
			IP:   net.IP(p.Addr().AsSlice()),
			Mask: net.CIDRMask(p.Bits(), 32),
		},
		// keepalived sets no broadcast address on a virtual IP; the
		// library would compute one if left nil.
		Broadcast: net.IPv4zero,
	}
}

func toPrefixes(addrs []netlink.Addr) []address {
	var out []address
	for _, a := range addrs {
		if a.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		if ip.Is4In6() || len(a.Mask) == net.IPv4len {
			ip = ip.Unmap()
		}
		bits, _ := a.Mask.Size()
		out = append(out, address{
			prefix:    netip.PrefixFrom(ip, bits),
			secondary: a.Flags&unix.IFA_F_SECONDARY != 0,
		})
	}
	return out
}
