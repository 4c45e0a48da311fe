package ndp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

const (
	typeNS           = 135
	optSourceLinkAdr = 1
	nsLen            = 24 // a probe carries no option (RFC 4861 7.2.2)
	// ProbeLen is the length of every frame ProbeFrame returns.
	ProbeLen = ethLen + ipv6Len + nsLen
)

// ProbeFrame is a duplicate address detection probe for addr (RFC 4862
// 5.4.2): a neighbour solicitation from the unspecified address to addr's
// solicited-node group. No cache learns anything from it, and a host that
// owns addr defends it with an advertisement to ff02::1, which
// ParseAdvert reads. It is what the IPv6 duplicate-VIP check sends.
func ProbeFrame(mac net.HardwareAddr, addr netip.Addr) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("building neighbour solicitation: %q is not an Ethernet address", mac)
	}
	if !addr.Is6() || addr.Is4In6() || addr.IsMulticast() || addr.IsUnspecified() {
		return nil, fmt.Errorf("building neighbour solicitation: %s is not a unicast IPv6 address", addr)
	}
	t := addr.As16()
	// ff02::1:ffXX:XXXX, and 33:33:ff:XX:XX:XX (RFC 4291 2.7.1, RFC 2464 7).
	group := [16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]}
	b := make([]byte, ProbeLen)
	copy(b[0:6], net.HardwareAddr{0x33, 0x33, 0xff, t[13], t[14], t[15]})
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:14], etherTypeIPv6)
	ip := b[ethLen:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:6], nsLen)
	ip[6] = protoICMPv6
	ip[7] = hopLimit
	// Source :: (bytes 8..24 stay zero).
	copy(ip[24:40], group[:])
	ns := ip[ipv6Len:]
	ns[0] = typeNS
	copy(ns[8:24], t[:])
	binary.BigEndian.PutUint16(ns[2:4], checksum([16]byte{}, group, ns))
	return b, nil
}

// Advert is what a neighbour advertisement says: that Target is at MAC.
type Advert struct {
	Target netip.Addr
	MAC    net.HardwareAddr
}

// ParseAdvert reads an Ethernet frame holding a neighbour advertisement
// with no IPv6 extension header; the MAC is its target link-layer address
// option, or the frame's source without one. It never panics on any input.
func ParseAdvert(frame []byte) (Advert, bool) {
	if len(frame) < ethLen+ipv6Len+24 || binary.BigEndian.Uint16(frame[12:14]) != etherTypeIPv6 {
		return Advert{}, false
	}
	ip := frame[ethLen:]
	if ip[0]>>4 != 6 || ip[6] != protoICMPv6 || ip[7] != hopLimit {
		return Advert{}, false
	}
	n := int(binary.BigEndian.Uint16(ip[4:6]))
	if n < 24 || ipv6Len+n > len(ip) {
		return Advert{}, false
	}
	na := ip[ipv6Len : ipv6Len+n]
	if na[0] != typeNA || na[1] != 0 {
		return Advert{}, false
	}
	a := Advert{Target: netip.AddrFrom16([16]byte(na[8:24])), MAC: net.HardwareAddr(append([]byte(nil), frame[6:12]...))}
	for opts := na[24:]; len(opts) >= 8; {
		l := int(opts[1]) * 8
		if l == 0 || l > len(opts) {
			break
		}
		if opts[0] == optTargetLinkAddr && l >= 8 {
			a.MAC = net.HardwareAddr(append([]byte(nil), opts[2:8]...))
		}
		opts = opts[l:]
	}
	return a, true
}
