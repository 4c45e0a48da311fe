// Package garp sends gratuitous ARP for virtual addresses, so that hosts and
// switches on the segment learn that an address now lives behind our MAC,
// and unsolicited neighbour advertisements (see package ndp) for IPv6 ones.
//
// The frame is the one keepalived 2.2.7 sends (checked with tcpdump against
// Debian's keepalived): Ethernet broadcast from our MAC, an ARP request whose
// sender and target IP are both the virtual address, sender hardware address
// our MAC and target hardware address ff:ff:ff:ff:ff:ff. How many to send and
// when is the caller's business.
package garp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/hasidecar/hasidecar/host/ndp"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
)

// Announcer sends gratuitous ARP on one interface. The socket lives in the
// network namespace of the thread that called NewAnnouncer and is bound to
// the interface as it was then (its index and MAC); after that it may be
// used from any goroutine.
type Announcer struct {
	iface string
	mac   net.HardwareAddr
	conn  *packet.Conn
}

// sendOnly is the protocol the socket is bound to: none. A packet socket
// bound to a protocol is on the interface's list of receivers, which the
// kernel walks for every frame that arrives or is sent there, ARP or not;
// with one socket per instance that walk was a sixth of a master's CPU at
// 200 instances. Unbound, the socket only sends, and the kernel reads the
// protocol of what it sends from the Ethernet header.
const sendOnly = 0

// NewAnnouncer opens a packet socket on the Ethernet interface iface in the
// current network namespace.
func NewAnnouncer(iface string) (*Announcer, error) {
	if iface == "" {
		return nil, errors.New("creating gratuitous ARP sender: no interface given")
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("creating gratuitous ARP sender for %s: %w", iface, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("creating gratuitous ARP sender for %s: not an Ethernet interface (hardware address %q)", iface, ifi.HardwareAddr)
	}
	conn, err := packet.Listen(ifi, packet.Raw, sendOnly, nil)
	if err != nil {
		return nil, fmt.Errorf("creating gratuitous ARP sender for %s: %w", iface, err)
	}
	return &Announcer{iface: iface, mac: ifi.HardwareAddr, conn: conn}, nil
}

// Frame returns the Ethernet frame announcing addr from mac: the bytes
// Announce sends.
func Frame(mac net.HardwareAddr, addr netip.Addr) ([]byte, error) {
	addr = addr.Unmap()
	if !addr.Is4() {
		return nil, fmt.Errorf("%s is not an IPv4 address", addr)
	}
	p, err := arp.NewPacket(arp.OperationRequest, mac, addr, ethernet.Broadcast, addr)
	if err != nil {
		return nil, fmt.Errorf("building gratuitous ARP for %s from %s: %w", addr, mac, err)
	}
	payload, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("building gratuitous ARP for %s: %w", addr, err)
	}
	f := &ethernet.Frame{
		Destination: ethernet.Broadcast,
		Source:      mac,
		EtherType:   ethernet.EtherTypeARP,
		Payload:     payload,
	}
	b, err := f.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("building Ethernet frame for %s: %w", addr, err)
	}
	return b, nil
}

// Announce sends one gratuitous ARP per IPv4 address and one unsolicited
// neighbour advertisement per IPv6 address (with the Router flag while the
// interface forwards IPv6). Every address is checked before anything is
// sent; a send failure does not stop the others, and all failures are
// returned together.
func (a *Announcer) Announce(addrs []netip.Addr) error {
	frames := make([][]byte, len(addrs))
	router, checked := false, false
	for i, addr := range addrs {
		var f []byte
		var err error
		if addr.Is6() && !addr.Is4In6() {
			if !checked {
				if router, err = ndp.Forwarding(a.iface); err != nil {
					return fmt.Errorf("announcing on %s: %w", a.iface, err)
				}
				checked = true
			}
			f, err = ndp.Frame(a.mac, addr, router)
		} else {
			f, err = Frame(a.mac, addr)
		}
		if err != nil {
			return fmt.Errorf("announcing on %s: %w", a.iface, err)
		}
		frames[i] = f
	}
	var errs []error
	for i, f := range frames {
		// The frame's own destination: broadcast for ARP, 33:33:00:00:00:01
		// for a neighbour advertisement.
		dst := &packet.Addr{HardwareAddr: net.HardwareAddr(f[0:6])}
		if _, err := a.conn.WriteTo(f, dst); err != nil {
			errs = append(errs, fmt.Errorf("sending announcement for %s on %s: %w", addrs[i], a.iface, err))
		}
	}
	return errors.Join(errs...)
}

// HardwareAddr returns the MAC address the announcements carry.
func (a *Announcer) HardwareAddr() net.HardwareAddr { return a.mac }

// Close closes the socket.
func (a *Announcer) Close() error {
	if err := a.conn.Close(); err != nil {
		return fmt.Errorf("closing gratuitous ARP sender of %s: %w", a.iface, err)
	}
	return nil
}
