// Package ndp builds unsolicited neighbour advertisements (RFC 4861 4.4 and
// 7.2.6) for virtual IPv6 addresses: what gratuitous ARP is to IPv4, so that
// hosts on the segment move the address to our MAC at once instead of after
// their neighbour cache entry goes stale.
//
// The frame is the one keepalived 2.2.7 sends (checked with tcpdump against
// Debian's keepalived): to ff02::1 (Ethernet 33:33:00:00:00:01) from the
// virtual address, hop limit 255, Override set, Solicited clear, Router set
// only while the interface forwards IPv6, and a target link-layer address
// option with our MAC. Sending it is the caller's business.
package ndp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// Wire constants of the frame.
const (
	etherTypeIPv6     = 0x86dd
	protoICMPv6       = 58
	hopLimit          = 255 // RFC 4861 7.1.2: receivers drop anything else
	typeNA            = 136
	flagRouter        = 0x80
	flagOverride      = 0x20
	optTargetLinkAddr = 2
	ethLen            = 14
	ipv6Len           = 40
	naLen             = 24 + 8 // the message and one 8-byte option
	// FrameLen is the length of every frame Frame returns.
	FrameLen = ethLen + ipv6Len + naLen
)

// allNodes is ff02::1, and allNodesMAC its Ethernet multicast address
// (RFC 2464 7: 33:33 and the low 32 bits).
var (
	allNodes    = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x01})
	allNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
)

// Frame returns the Ethernet frame announcing addr at mac; router sets the
// Router flag (the sender forwards IPv6).
func Frame(mac net.HardwareAddr, addr netip.Addr, router bool) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("building neighbour advertisement: %q is not an Ethernet address", mac)
	}
	if !addr.Is6() || addr.Is4In6() || addr.IsMulticast() || addr.IsUnspecified() {
		return nil, fmt.Errorf("building neighbour advertisement: %s is not a unicast IPv6 address", addr)
	}
	b := make([]byte, FrameLen)
	copy(b[0:6], allNodesMAC)
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:14], etherTypeIPv6)

	ip := b[ethLen:]
	ip[0] = 0x60 // version 6, traffic class and flow label 0
	binary.BigEndian.PutUint16(ip[4:6], naLen)
	ip[6] = protoICMPv6
	ip[7] = hopLimit
	src, dst := addr.As16(), allNodes.As16()
	copy(ip[8:24], src[:])
	copy(ip[24:40], dst[:])

	na := ip[ipv6Len:]
	na[0] = typeNA
	na[4] = flagOverride
	if router {
		na[4] |= flagRouter
	}
	copy(na[8:24], src[:])
	na[24] = optTargetLinkAddr
	na[25] = 1 // in units of 8 bytes
	copy(na[26:32], mac)
	binary.BigEndian.PutUint16(na[2:4], checksum(src, dst, na))
	return b, nil
}

// checksum is the ICMPv6 checksum (RFC 4443 2.3) of msg, whose checksum
// field is zero, over the IPv6 pseudo-header.
func checksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	for i := 0; i < 16; i += 2 {
		sum += uint32(src[i])<<8 | uint32(src[i+1])
		sum += uint32(dst[i])<<8 | uint32(dst[i+1])
	}
	sum += uint32(len(msg)) + protoICMPv6
	for i := 0; i+1 < len(msg); i += 2 {
		sum += uint32(msg[i])<<8 | uint32(msg[i+1])
	}
	if len(msg)%2 == 1 {
		sum += uint32(msg[len(msg)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Forwarding reports whether iface forwards IPv6, from
// /proc/sys/net/ipv6/conf/IFACE/forwarding of the calling thread's network
// namespace: the Router flag must say so (RFC 4861 4.4), or hosts that use
// us as a router would drop us from their default router list.
func Forwarding(iface string) (bool, error) {
	if iface == "" || strings.ContainsAny(iface, "/") || iface == "." || iface == ".." {
		return false, fmt.Errorf("reading IPv6 forwarding: bad interface name %q", iface)
	}
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + iface + "/forwarding")
	if err != nil {
		return false, fmt.Errorf("reading IPv6 forwarding of %s: %w", iface, err)
	}
	return strings.TrimSpace(string(b)) != "0", nil
}
