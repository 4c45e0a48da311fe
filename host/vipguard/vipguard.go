// Package vipguard finds another machine that owns one of our virtual
// addresses while we are master (a duplicate VIP owner: a forgotten static
// address, a second cluster, kube-vip on the same segment). It listens to
// ARP on the interface for a sender claiming one of our addresses from
// another MAC (gratuitous ARP, requests from that address), and to IPv6
// neighbour advertisements for one of our IPv6 addresses; and it probes for
// the addresses now and then (ARP probes, duplicate address detection
// solicitations), which a silent owner's kernel answers.
package vipguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
)

// etherTypeARP is the protocol the socket is bound to: ARP frames only,
// sent or received on the interface.
const etherTypeARP = 0x0806

// Claim is another MAC speaking for an address.
type Claim struct {
	Addr netip.Addr
	MAC  net.HardwareAddr
}

// ParseClaim reads an Ethernet frame and returns the address its ARP
// sender claims, and from which MAC, unless the frame is not ARP, claims
// nothing (sender 0.0.0.0: a probe) or comes from own (our own frames,
// seen as they leave). It never panics on any input.
func ParseClaim(frame []byte, own net.HardwareAddr) (Claim, bool) {
	var f ethernet.Frame
	if err := f.UnmarshalBinary(frame); err != nil || f.EtherType != ethernet.EtherTypeARP {
		return Claim{}, false
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		return Claim{}, false
	}
	ip := p.SenderIP.Unmap()
	if !ip.Is4() || ip.IsUnspecified() || sameMAC(p.SenderHardwareAddr, own) || sameMAC(f.Source, own) {
		return Claim{}, false
	}
	return Claim{Addr: ip, MAC: p.SenderHardwareAddr}, true
}

func sameMAC(a, b net.HardwareAddr) bool {
	return len(a) == len(b) && string(a) == string(b)
}

// ProbeFrame is an ARP probe for addr from mac (RFC 5227: sender address
// 0.0.0.0, so that no cache learns anything from it); whoever owns addr
// answers it to mac.
func ProbeFrame(mac net.HardwareAddr, addr netip.Addr) ([]byte, error) {
	addr = addr.Unmap()
	if !addr.Is4() {
		return nil, fmt.Errorf("%s is not an IPv4 address", addr)
	}
	p, err := arp.NewPacket(arp.OperationRequest, mac, netip.IPv4Unspecified(), ethernet.Broadcast, addr)
	if err != nil {
		return nil, err
	}
	payload, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: mac, EtherType: ethernet.EtherTypeARP, Payload: payload}
	return f.MarshalBinary()
}

// Guard watches one interface. Open it in the namespace of the interface.
type Guard struct {
	iface string
	mac   net.HardwareAddr
	conn  *packet.Conn
	conn6 *packet.Conn // neighbour advertisements only
}

// Open opens an ARP socket on iface.
func Open(iface string) (*Guard, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("watching ARP on %s: %w", iface, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("watching ARP on %s: not an Ethernet interface", iface)
	}
	conn, err := packet.Listen(ifi, packet.Raw, etherTypeARP, nil)
	if err != nil {
		return nil, fmt.Errorf("watching ARP on %s: %w", iface, err)
	}
	conn6, err := listenNA(ifi)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("watching neighbour advertisements on %s: %w", iface, err)
	}
	return &Guard{iface: iface, mac: ifi.HardwareAddr, conn: conn, conn6: conn6}, nil
}

// Interface is the interface watched.
func (g *Guard) Interface() string { return g.iface }

// Run reads ARP until ctx ends and hands report every claim of another MAC.
// The caller decides whether the address is one we own now.
func (g *Guard) Run(ctx context.Context, report func(Claim)) error {
	go func() {
		<-ctx.Done()
		g.conn.Close()
		g.conn6.Close()
	}()
	errs := make(chan error, 2)
	read := func(c *packet.Conn, what string, parse func([]byte, net.HardwareAddr) (Claim, bool)) {
		buf := make([]byte, 1514)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					errs <- nil
				} else {
					errs <- fmt.Errorf("reading %s on %s: %w", what, g.iface, err)
				}
				return
			}
			if cl, ok := parse(buf[:n], g.mac); ok {
				report(cl)
			}
		}
	}
	go read(g.conn6, "neighbour advertisements", ParseAdvertClaim)
	read(g.conn, "ARP", ParseClaim)
	return errors.Join(<-errs, <-errs)
}

// Probe asks who owns each address.
func (g *Guard) Probe(addrs []netip.Addr) error {
	var errs []error
	dst := &packet.Addr{HardwareAddr: ethernet.Broadcast}
	for _, a := range addrs {
		if a.Is6() && !a.Is4In6() {
			if err := g.probe6(a); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		f, err := ProbeFrame(g.mac, a)
		if err != nil {
			continue
		}
		if _, err := g.conn.WriteTo(f, dst); err != nil {
			errs = append(errs, fmt.Errorf("probing for %s on %s: %w", a, g.iface, err))
		}
	}
	return errors.Join(errs...)
}

// Close closes the sockets.
func (g *Guard) Close() error { return errors.Join(g.conn.Close(), g.conn6.Close()) }
