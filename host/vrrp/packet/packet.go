package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Protocol is the IP protocol number of VRRP (RFC 3768 5.2.4, RFC 5798 5.1.1.4).
const Protocol = 112

// TTL is the IP TTL advertisements are sent with; multicast advertisements
// must arrive with it (RFC 3768 5.2.3, RFC 5798 5.1.1.3).
const TTL = 255

// MulticastGroup returns 224.0.0.18, the IPv4 destination of multicast
// advertisements (RFC 3768 5.2.2, RFC 5798 5.1.1.2).
func MulticastGroup() netip.Addr { return netip.AddrFrom4([4]byte{224, 0, 0, 18}) }

// MulticastGroup6 returns ff02::12, the IPv6 destination of multicast
// advertisements (RFC 5798 5.1.2.2).
func MulticastGroup6() netip.Addr {
	return netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x12})
}

// Group returns the multicast destination for the family of addr.
func Group(addr netip.Addr) netip.Addr {
	if is6(addr) {
		return MulticastGroup6()
	}
	return MulticastGroup()
}

// is6 reports whether addr is an IPv6 address proper (not IPv4-mapped):
// the family a VRRP packet travels in decides the width of its addresses.
func is6(addr netip.Addr) bool { return addr.Is6() && !addr.Is4In6() }

// AuthType is the v2 authentication type (RFC 2338 5.3.6; RFC 3768 5.3.6
// keeps the field but reserves the values other than 0).
type AuthType uint8

// Authentication types. keepalived implements all three for v2; this package
// carries AuthAH in decoded packets but cannot send it.
const (
	AuthNone AuthType = 0 // no authentication
	AuthPass AuthType = 1 // simple text password in the authentication data
	AuthAH   AuthType = 2 // IPsec AH; recognised, not supported
)

// String names the type as keepalived's configuration does.
func (t AuthType) String() string {
	switch t {
	case AuthNone:
		return "none"
	case AuthPass:
		return "PASS"
	case AuthAH:
		return "AH"
	}
	return fmt.Sprintf("auth type %d", uint8(t))
}

// Sizes and limits of the wire format.
const (
	headerLen   = 8
	authDataLen = 8
	addrLen     = 4
	addrLen6    = 16

	typeAdvertisement = 1

	// MaxAddresses is the most addresses one advertisement can carry: the
	// count is one byte (RFC 3768 5.3.5, RFC 5798 5.2.5).
	MaxAddresses = 255

	// RFC 3768 5.3.7: whole seconds in 8 bits.
	v2IntervalUnit = time.Second
	v2IntervalMax  = 255
	// RFC 5798 5.2.7: centiseconds in 12 bits.
	v3IntervalUnit = 10 * time.Millisecond
	v3IntervalMax  = 0x0fff
)

// Errors returned by Marshal and Unmarshal. They are wrapped with details;
// test with errors.Is.
var (
	ErrTooShort         = errors.New("vrrp: message shorter than the 8-byte header")
	ErrBadVersion       = errors.New("vrrp: version is neither 2 nor 3")
	ErrBadType          = errors.New("vrrp: type is not ADVERTISEMENT (1)")
	ErrLengthMismatch   = errors.New("vrrp: length does not match the address count")
	ErrBadChecksum      = errors.New("vrrp: bad checksum")
	ErrBadInterval      = errors.New("vrrp: advertisement interval out of range")
	ErrBadVRID          = errors.New("vrrp: VRID 0 is not valid")
	ErrUnknownAuthType  = errors.New("vrrp: unknown authentication type")
	ErrAuthUnsupported  = errors.New("vrrp: authentication not supported")
	ErrTooManyAddresses = errors.New("vrrp: more than 255 addresses")
	ErrNotIPv4          = errors.New("vrrp: address is not IPv4")
	ErrFamily           = errors.New("vrrp: addresses of another family than the packet")
)

// Advertisement is one VRRP ADVERTISEMENT message.
type Advertisement struct {
	Version  uint8 // 2 or 3
	VRID     uint8 // 1..255
	Priority uint8 // 0 (master resigns) .. 255 (address owner)
	// Interval is the (maximum) advertisement interval: v2 whole seconds
	// 1..255, v3 multiples of 10ms from 10ms to 40.95s.
	Interval  time.Duration
	Addresses []netip.Addr // all of the family of the IP packet (IPv6: v3 only)
	AuthType  AuthType     // v2 only
	AuthData  [8]byte      // v2 only; see Password
}

// Password returns the 8 bytes of authentication data keepalived sends and
// expects for auth_pass s: s zero padded, or cut to its first 8 bytes, in
// which case truncated is true (keepalived logs "Truncating auth_pass").
func Password(s string) (data [8]byte, truncated bool) {
	n := copy(data[:], s)
	return data, n < len(s)
}

// Len returns the length of the marshalled message, without validating it;
// the first address decides the family.
func (a *Advertisement) Len() int {
	width := addrLen
	if len(a.Addresses) > 0 && is6(a.Addresses[0]) {
		width = addrLen6
	}
	n := headerLen + width*len(a.Addresses)
	if a.Version == 2 {
		n += authDataLen
	}
	return n
}

// Marshal encodes the advertisement. src and dst are the source and
// destination the packet is sent with, IPv4 or (v3 only) IPv6; v3 needs
// them for the pseudo-header checksum (RFC 5798 5.2.8), v2 ignores them
// (RFC 3768 5.3.8). For unicast v3 dst is the peer's address, as keepalived
// 2.2.7 does (or MulticastGroup() in its old_unicast_checksum compatibility
// mode). The addresses must be of src's family.
func (a *Advertisement) Marshal(src, dst netip.Addr) ([]byte, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	v6 := false
	if a.Version == 3 {
		if err := pseudoHeaderAddrs(src, dst); err != nil {
			return nil, err
		}
		v6 = is6(src)
	}
	for _, ip := range a.Addresses {
		if !ip.IsValid() || is6(ip) != v6 {
			return nil, fmt.Errorf("%w: virtual address %v in a packet from %v", ErrFamily, ip, src)
		}
	}

	b := make([]byte, a.Len())
	b[0] = a.Version<<4 | typeAdvertisement
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = uint8(len(a.Addresses))
	switch a.Version {
	case 2:
		b[4] = uint8(a.AuthType)
		b[5] = uint8(a.Interval / v2IntervalUnit)
	case 3:
		// The 4 reserved bits stay zero (RFC 5798 5.2.6).
		binary.BigEndian.PutUint16(b[4:6], uint16(a.Interval/v3IntervalUnit))
	}
	off := headerLen
	for _, ip := range a.Addresses {
		if v6 {
			v := ip.As16()
			off += copy(b[off:], v[:])
			continue
		}
		v4 := ip.As4()
		off += copy(b[off:], v4[:])
	}
	if a.Version == 2 {
		copy(b[off:], a.AuthData[:])
	}

	binary.BigEndian.PutUint16(b[6:8], checksum(a.Version, b, src, dst))
	return b, nil
}

func (a *Advertisement) validate() error {
	if a.Version != 2 && a.Version != 3 {
		return fmt.Errorf("%w: %d", ErrBadVersion, a.Version)
	}
	if a.VRID == 0 {
		return ErrBadVRID
	}
	if err := validInterval(a.Version, a.Interval); err != nil {
		return err
	}
	if len(a.Addresses) > MaxAddresses {
		return fmt.Errorf("%w: %d", ErrTooManyAddresses, len(a.Addresses))
	}
	for _, ip := range a.Addresses {
		if a.Version == 2 && !ip.Is4() {
			return fmt.Errorf("%w: VRRPv2 carries IPv4 only, got virtual address %v", ErrNotIPv4, ip)
		}
	}
	switch {
	case a.Version == 3 && (a.AuthType != AuthNone || a.AuthData != [8]byte{}):
		// RFC 5798 removed the authentication fields altogether.
		return fmt.Errorf("%w: VRRPv3 has no authentication", ErrAuthUnsupported)
	case a.AuthType == AuthAH:
		return fmt.Errorf("%w: %v", ErrAuthUnsupported, a.AuthType)
	case a.AuthType > AuthAH:
		return fmt.Errorf("%w: %d", ErrUnknownAuthType, a.AuthType)
	}
	return nil
}

// validInterval checks an interval against the version's unit and field width.
func validInterval(version uint8, d time.Duration) error {
	unit, max := v2IntervalUnit, time.Duration(v2IntervalMax)
	if version == 3 {
		unit, max = v3IntervalUnit, v3IntervalMax
	}
	if d <= 0 || d%unit != 0 || d/unit > max {
		return fmt.Errorf("%w: VRRPv%d needs a multiple of %v from %v to %v, got %v",
			ErrBadInterval, version, unit, unit, max*unit, d)
	}
	return nil
}

// Unmarshal decodes and validates one VRRP message (the IP payload). src and
// dst are the source and destination of the IP header it arrived in; v3 uses
// them for the pseudo-header checksum, v2 ignores them. Their family decides
// the width of the addresses (IPv6: 16 bytes, v3 only). Pass the destination
// exactly as received, as keepalived 2.2.7 does: 224.0.0.18 for multicast,
// the receiver's own address for unicast.
//
// Checks, in order: header present, version 2 or 3 (RFC 3768 7.1, RFC 5798
// 7.1), type ADVERTISEMENT (RFC 3768 5.3.2, RFC 5798 5.2.2), length exactly
// as the count says ("complete VRRP packet", 7.1 of both), checksum (7.1 of
// both), VRID not 0, known v2 auth type, interval not 0.
func Unmarshal(b []byte, src, dst netip.Addr) (*Advertisement, error) {
	if len(b) < headerLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooShort, len(b))
	}
	a := &Advertisement{Version: b[0] >> 4}
	if a.Version != 2 && a.Version != 3 {
		return nil, fmt.Errorf("%w: %d", ErrBadVersion, a.Version)
	}
	if typ := b[0] & 0x0f; typ != typeAdvertisement {
		return nil, fmt.Errorf("%w: %d", ErrBadType, typ)
	}
	if a.Version == 3 {
		if err := pseudoHeaderAddrs(src, dst); err != nil {
			return nil, err
		}
	}
	count := int(b[3])
	width := addrLen
	if is6(src) {
		if a.Version == 2 {
			return nil, fmt.Errorf("%w: VRRPv2 over IPv6", ErrBadVersion)
		}
		width = addrLen6
	}
	want := headerLen + width*count
	if a.Version == 2 {
		want += authDataLen
	}
	if len(b) != want {
		return nil, fmt.Errorf("%w: %d addresses need %d bytes, got %d", ErrLengthMismatch, count, want, len(b))
	}
	if got, sum := binary.BigEndian.Uint16(b[6:8]), checksum(a.Version, b, src, dst); got != sum && !(sum == 0 && got == 0xffff) {
		// 0xffff is the other one's-complement zero; keepalived verifies by
		// summing the whole message, which accepts either form.
		return nil, fmt.Errorf("%w: got %#04x, computed %#04x", ErrBadChecksum, got, sum)
	}

	a.VRID = b[1]
	a.Priority = b[2]
	if a.VRID == 0 {
		return nil, ErrBadVRID
	}
	switch a.Version {
	case 2:
		a.AuthType = AuthType(b[4])
		if a.AuthType > AuthAH {
			return nil, fmt.Errorf("%w: %d", ErrUnknownAuthType, b[4])
		}
		a.Interval = time.Duration(b[5]) * v2IntervalUnit
		copy(a.AuthData[:], b[headerLen+width*count:])
	case 3:
		// Reserved bits are ignored on reception (RFC 5798 5.2.6).
		a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:6])&0x0fff) * v3IntervalUnit
	}
	if a.Interval == 0 {
		// Both RFCs start the range at 1; 0 would make Master_Down_Interval
		// no longer than Skew_Time.
		return nil, fmt.Errorf("%w: 0", ErrBadInterval)
	}

	a.Addresses = make([]netip.Addr, count)
	for i := range a.Addresses {
		off := headerLen + width*i
		if width == addrLen6 {
			a.Addresses[i] = netip.AddrFrom16([16]byte(b[off : off+addrLen6]))
			if a.Addresses[i].Is4In6() {
				// No router advertises one; taken in, it would be an
				// address of neither family.
				return nil, fmt.Errorf("%w: IPv4-mapped address %v in an IPv6 advertisement", ErrFamily, a.Addresses[i])
			}
			continue
		}
		a.Addresses[i] = netip.AddrFrom4([4]byte(b[off : off+addrLen]))
	}
	return a, nil
}

func pseudoHeaderAddrs(src, dst netip.Addr) error {
	switch {
	case src.Is4() && dst.Is4():
		return nil
	case is6(src) && is6(dst):
		return nil
	}
	return fmt.Errorf("%w: VRRPv3 pseudo-header needs a source and a destination of one family, got %v and %v", ErrNotIPv4, src, dst)
}

// checksum returns the Internet checksum (RFC 1071) of msg with its checksum
// field taken as zero, preceded for v3 by the IPv4 pseudo-header, or the
// IPv6 one (RFC 8200 8.1: source, destination, 32-bit length, next header
// 112) when src is IPv6.
func checksum(version uint8, msg []byte, src, dst netip.Addr) uint16 {
	var sum uint32
	if version == 3 && is6(src) {
		s, d := src.As16(), dst.As16()
		for i := 0; i < 16; i += 2 {
			sum += uint32(s[i])<<8 | uint32(s[i+1])
			sum += uint32(d[i])<<8 | uint32(d[i+1])
		}
		sum += uint32(len(msg)) // fits in the low 16 bits: at most 8+16*255
		sum += Protocol
	} else if version == 3 {
		s, d := src.As4(), dst.As4()
		sum += uint32(s[0])<<8 | uint32(s[1])
		sum += uint32(s[2])<<8 | uint32(s[3])
		sum += uint32(d[0])<<8 | uint32(d[1])
		sum += uint32(d[2])<<8 | uint32(d[3])
		sum += Protocol // zero byte, then the protocol byte
		sum += uint32(len(msg))
	}
	for i := 0; i+1 < len(msg); i += 2 {
		if i == 6 {
			continue // the checksum field itself
		}
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
