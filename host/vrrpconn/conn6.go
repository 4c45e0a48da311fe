package vrrpconn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"github.com/hasidecar/hasidecar/host/drops"
	"github.com/hasidecar/hasidecar/host/vrrp/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// MulticastGroup6 is the IPv6 VRRP multicast address (RFC 5798 section
// 5.1.2.2).
var MulticastGroup6 = packet.MulticastGroup6()

// HopLimit is the IPv6 hop limit of every advertisement, multicast and
// unicast (RFC 5798 section 5.1.2.3). keepalived 2.2.7 sends unicast IPv6
// adverts with the default hop limit (64), which is why unicast adverts
// are not checked for it.
const HopLimit = 255

// ErrNoLinkLocal is returned by Open for an IPv6 Conn without Source on an
// interface that has no usable link-local address: RFC 5798 5.1.2.1 sends
// IPv6 adverts from it.
var ErrNoLinkLocal = errors.New("the interface has no IPv6 link-local address to send VRRP from")

// open6 creates the IPv6 socket: the kernel builds the IPv6 header (an IPv6
// raw socket has no IP_HDRINCL worth using), with the source given in each
// send's IPV6_PKTINFO, hop limit 255 and traffic class 0xc0 as keepalived
// 2.2.7 sends them (checked with tcpdump).
func (c *Conn) open6(source netip.Addr, multicast bool) error {
	name := c.iface.Name
	var err error
	switch {
	case !source.IsValid():
		if source, err = linkLocal(name); err != nil {
			return fmt.Errorf("opening VRRP socket on %s: %w", name, err)
		}
	case source.Is4() || source.Is4In6():
		return fmt.Errorf("opening VRRP socket on %s: source %s is not an IPv6 address", name, source)
	case source.IsMulticast() || source.IsUnspecified():
		return fmt.Errorf("opening VRRP socket on %s: source %s is not a unicast address", name, source)
	}
	c.source, c.v6 = source.WithZone(""), true
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, Protocol)
	if err != nil {
		return fmt.Errorf("opening VRRP socket on %s: %w", name, err)
	}
	c.fd = fd
	if err := c.configure6(multicast); err != nil {
		unix.Close(fd)
		return err
	}
	c.pktinfo = pktinfoCmsg(c.source, c.iface.Index)
	return nil
}

func (c *Conn) configure6(multicast bool) error {
	name := c.iface.Name
	fd := c.fd
	if err := c.bindToDevice(); err != nil {
		return err
	}
	err := c.setOptions(unix.IPPROTO_IPV6, []sockopt{
		{"clearing IPV6_MULTICAST_ALL", unix.IPV6_MULTICAST_ALL, 0},
		{"setting the traffic class", unix.IPV6_TCLASS, TOS},
		{"setting the unicast hop limit", unix.IPV6_UNICAST_HOPS, HopLimit},
		{"setting the multicast hop limit", unix.IPV6_MULTICAST_HOPS, HopLimit},
		{"turning multicast loopback off", unix.IPV6_MULTICAST_LOOP, 0},
		{"asking for the destination and interface", unix.IPV6_RECVPKTINFO, 1},
		{"asking for the hop limit", unix.IPV6_RECVHOPLIMIT, 1},
	})
	if err != nil {
		return err
	}
	// Bound to the group in multicast mode and to our own address in
	// unicast mode, as for IPv4: each mode then sees only its own traffic.
	bindTo := c.source
	if multicast {
		bindTo = MulticastGroup6
	}
	sa := &unix.SockaddrInet6{Addr: bindTo.As16()}
	if bindTo.IsLinkLocalUnicast() || bindTo.IsLinkLocalMulticast() {
		sa.ZoneId = uint32(c.iface.Index)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("opening VRRP socket on %s bound to %s: %w", name, bindTo, err)
	}
	if !multicast {
		return nil
	}
	if err := c.setOptions(unix.IPPROTO_IPV6, []sockopt{{"setting multicast interface", unix.IPV6_MULTICAST_IF, c.iface.Index}}); err != nil {
		return err
	}
	mreq := &unix.IPv6Mreq{Multiaddr: MulticastGroup6.As16(), Interface: uint32(c.iface.Index)}
	if err := unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq); err != nil {
		return fmt.Errorf("joining %s on %s: %w", MulticastGroup6, name, err)
	}
	return nil
}

// linkLocal returns the first IPv6 link-local address of iface that is not
// tentative or failed duplicate address detection.
func linkLocal(iface string) (netip.Addr, error) {
	link, err := netlink.LinkByName(iface)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("finding interface %s: %w", iface, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("listing addresses of %s: %w", iface, err)
	}
	for _, a := range addrs {
		if a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
			continue
		}
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Is6() && ip.IsLinkLocalUnicast() {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%s: %w", iface, ErrNoLinkLocal)
}

// pktinfoCmsg is the IPV6_PKTINFO control message that makes each send
// leave from src on interface ifIndex.
func pktinfoCmsg(src netip.Addr, ifIndex int) []byte {
	b := make([]byte, unix.CmsgSpace(unix.SizeofInet6Pktinfo))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_IPV6
	h.Type = unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
	pi.Addr = src.As16()
	pi.Ifindex = uint32(ifIndex)
	return b
}

// send6 sends one VRRP payload to dst; the kernel builds the IPv6 header.
func (c *Conn) send6(payload []byte, dst netip.Addr) error {
	if !dst.Is6() || dst.Is4In6() {
		return fmt.Errorf("sending VRRP on %s: destination %s is not an IPv6 address", c.iface.Name, dst)
	}
	if len(payload) == 0 || len(payload) > maxPacket {
		return fmt.Errorf("sending VRRP on %s to %s: payload of %d bytes", c.iface.Name, dst, len(payload))
	}
	sa := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: dst.As16()}
	if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() {
		sa.Scope_id = uint32(c.iface.Index)
	}
	iov := unix.Iovec{Base: unsafe.SliceData(payload)}
	iov.SetLen(len(payload))
	msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(&sa)), Namelen: unix.SizeofSockaddrInet6, Iov: &iov,
		Control: &c.pktinfo[0]}
	msg.SetIovlen(1)
	msg.SetControllen(len(c.pktinfo))
	if err := c.sendmsg(&msg); err != nil {
		return fmt.Errorf("sending VRRP on %s to %s: %w", c.iface.Name, dst, err)
	}
	return nil
}

// control6 is what the IPv6 control messages of one datagram say.
type control6 struct {
	dst      netip.Addr
	ifIndex  int
	hopLimit int // -1: not reported
}

// parseControl6 reads IPV6_PKTINFO and IPV6_HOPLIMIT from oob.
func parseControl6(oob []byte) (control6, error) {
	cm := control6{hopLimit: -1}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return cm, err
	}
	for _, m := range msgs {
		if m.Header.Level != unix.IPPROTO_IPV6 {
			continue
		}
		switch m.Header.Type {
		case unix.IPV6_PKTINFO:
			if len(m.Data) < unix.SizeofInet6Pktinfo {
				return cm, errors.New("short IPV6_PKTINFO")
			}
			cm.dst = netip.AddrFrom16([16]byte(m.Data[:16]))
			cm.ifIndex = int(binary.NativeEndian.Uint32(m.Data[16:20]))
		case unix.IPV6_HOPLIMIT:
			if len(m.Data) < 4 {
				return cm, errors.New("short IPV6_HOPLIMIT")
			}
			cm.hopLimit = int(int32(binary.NativeEndian.Uint32(m.Data[:4])))
		}
	}
	return cm, nil
}

// accept6 turns what an IPv6 socket read (the payload alone, its source
// from the message's name, the rest from control messages) into a Packet,
// or counts why not.
func (c *Conn) accept6(from *unix.RawSockaddrInet6, payload, oob []byte) (Packet, bool) {
	cm, err := parseControl6(oob)
	if err != nil || from.Family != unix.AF_INET6 || !cm.dst.IsValid() || cm.hopLimit < 0 || cm.hopLimit > 255 {
		c.dropped.Add(drops.BadIPHeader)
		return Packet{}, false
	}
	if cm.ifIndex != 0 && cm.ifIndex != c.iface.Index {
		c.dropped.Add(drops.OtherInterface)
		return Packet{}, false
	}
	src := netip.AddrFrom16(from.Addr)
	if src == c.source {
		c.dropped.Add(drops.OwnSource)
		return Packet{}, false
	}
	return Packet{
		Src:     src,
		Dst:     cm.dst,
		TTL:     uint8(cm.hopLimit),
		IfIndex: c.iface.Index,
		Payload: append([]byte(nil), payload...),
	}, true
}

// PrimaryIPv4 returns the first IPv4 address of iface that is not a
// secondary one: the source a Conn on iface uses by default, for a Conn on
// another interface (use_vmac's macvlan) that must send from it.
func PrimaryIPv4(iface string) (netip.Addr, error) { return primaryIPv4(iface) }
