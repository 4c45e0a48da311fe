package packet

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var (
	src   = netip.MustParseAddr("198.51.100.1")
	peer  = netip.MustParseAddr("198.51.100.2")
	vip1  = netip.MustParseAddr("198.51.100.100")
	vip2  = netip.MustParseAddr("198.51.100.101")
	vip3  = netip.MustParseAddr("198.51.100.110")
	vip4  = netip.MustParseAddr("198.51.100.120")
	group = MulticastGroup()
)

// Golden packets, written out from the RFC layouts byte by byte. Their
// checksums were computed by an RFC 1071 sum independent of this package
// (and are checked again by rfc1071 below).
var golden = []struct {
	name     string
	ad       Advertisement
	src, dst netip.Addr
	wire     []byte
}{
	{
		name: "v2 auth none",
		ad:   Advertisement{Version: 2, VRID: 51, Priority: 150, Interval: time.Second, Addresses: []netip.Addr{vip1}},
		src:  src, dst: group,
		wire: []byte{
			0x21, 51, 150, 1, // version 2 type 1, VRID, priority, count
			0, 1, 0x1e, 0x32, // auth type none, 1 s, checksum
			198, 51, 100, 100,
			0, 0, 0, 0, 0, 0, 0, 0, // authentication data, always present in v2
		},
	},
	{
		name: "v2 PASS, two addresses",
		ad: Advertisement{Version: 2, VRID: 51, Priority: 150, Interval: time.Second, Addresses: []netip.Addr{vip1, vip2},
			AuthType: AuthPass, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1', 0}},
		src: src, dst: group,
		wire: []byte{
			0x21, 51, 150, 2,
			1, 1, 0x85, 0x4b,
			198, 51, 100, 100,
			198, 51, 100, 101,
			's', 'e', 'c', 'r', 'e', 't', '1', 0,
		},
	},
	{
		name: "v3 multicast",
		ad:   Advertisement{Version: 3, VRID: 51, Priority: 150, Interval: 100 * time.Millisecond, Addresses: []netip.Addr{vip1}},
		src:  src, dst: group,
		wire: []byte{
			0x31, 51, 150, 1,
			0x00, 10, 0x03, 0x65, // reserved + 10 centiseconds, checksum over the pseudo-header
			198, 51, 100, 100,
		},
	},
	{
		name: "v3 unicast: the peer in the pseudo-header",
		ad:   Advertisement{Version: 3, VRID: 51, Priority: 150, Interval: 100 * time.Millisecond, Addresses: []netip.Addr{vip1}},
		src:  src, dst: peer,
		wire: []byte{
			0x31, 51, 150, 1,
			0x00, 10, 0xb9, 0x41,
			198, 51, 100, 100,
		},
	},
}

// Captured from keepalived 2.2.7 (Debian's package): a MASTER in a throwaway
// network namespace with 198.51.100.1/24 on a veth, advertisements read with
// tcpdump and the VRRP payload copied here byte for byte. All arrived with
// TTL 255 and TOS 0xc0. The "priority 0" ones were sent on SIGTERM. The
// instances were:
//
//	VRID 51 version 2, PASS secret1, advert_int 1, VIPs .100 and .101
//	VRID 52 version 3, advert_int 0.1, VIP .110
//	VRID 53 version 3, advert_int 1, unicast_src_ip .1, unicast_peer .2, VIP .120
//	VRID 61 version 2, no authentication, advert_int 1, VIP .100
//	VRID 62 version 2, PASS secret1-and-more (keepalived: "Truncating auth_pass
//	to 8 characters"), advert_int 1, VIP .101
var captured = []struct {
	name     string
	ad       Advertisement
	src, dst netip.Addr
	wire     []byte
}{
	{
		name: "v2 PASS secret1, two addresses",
		ad: Advertisement{Version: 2, VRID: 51, Priority: 150, Interval: time.Second, Addresses: []netip.Addr{vip1, vip2},
			AuthType: AuthPass, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1', 0}},
		src: src, dst: group,
		wire: []byte{0x21, 0x33, 0x96, 0x02, 0x01, 0x01, 0x85, 0x4b, 0xc6, 0x33, 0x64, 0x64, 0xc6, 0x33, 0x64, 0x65,
			0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x31, 0x00},
	},
	{
		name: "v2 PASS secret1, priority 0",
		ad: Advertisement{Version: 2, VRID: 51, Priority: 0, Interval: time.Second, Addresses: []netip.Addr{vip1, vip2},
			AuthType: AuthPass, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1', 0}},
		src: src, dst: group,
		wire: []byte{0x21, 0x33, 0x00, 0x02, 0x01, 0x01, 0x1b, 0x4c, 0xc6, 0x33, 0x64, 0x64, 0xc6, 0x33, 0x64, 0x65,
			0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x31, 0x00},
	},
	{
		name: "v2 no authentication: 8 zero bytes",
		ad:   Advertisement{Version: 2, VRID: 61, Priority: 150, Interval: time.Second, Addresses: []netip.Addr{vip1}},
		src:  src, dst: group,
		wire: []byte{0x21, 0x3d, 0x96, 0x01, 0x00, 0x01, 0x1e, 0x28, 0xc6, 0x33, 0x64, 0x64,
			0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
	},
	{
		name: "v2 no authentication, priority 0",
		ad:   Advertisement{Version: 2, VRID: 61, Priority: 0, Interval: time.Second, Addresses: []netip.Addr{vip1}},
		src:  src, dst: group,
		wire: []byte{0x21, 0x3d, 0x00, 0x01, 0x00, 0x01, 0xb4, 0x28, 0xc6, 0x33, 0x64, 0x64,
			0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
	},
	{
		name: "v2 PASS truncated to 8 bytes",
		ad: Advertisement{Version: 2, VRID: 62, Priority: 150, Interval: time.Second, Addresses: []netip.Addr{vip2},
			AuthType: AuthPass, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1', '-'}},
		src: src, dst: group,
		wire: []byte{0x21, 0x3e, 0x96, 0x01, 0x01, 0x01, 0xaf, 0xac, 0xc6, 0x33, 0x64, 0x65,
			0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x31, 0x2d},
	},
	{
		name: "v3 multicast, 10 cs",
		ad:   Advertisement{Version: 3, VRID: 52, Priority: 150, Interval: 100 * time.Millisecond, Addresses: []netip.Addr{vip3}},
		src:  src, dst: group,
		wire: []byte{0x31, 0x34, 0x96, 0x01, 0x00, 0x0a, 0x03, 0x5a, 0xc6, 0x33, 0x64, 0x6e},
	},
	{
		name: "v3 multicast, priority 0",
		ad:   Advertisement{Version: 3, VRID: 52, Priority: 0, Interval: 100 * time.Millisecond, Addresses: []netip.Addr{vip3}},
		src:  src, dst: group,
		wire: []byte{0x31, 0x34, 0x00, 0x01, 0x00, 0x0a, 0x99, 0x5a, 0xc6, 0x33, 0x64, 0x6e},
	},
	{
		// The pseudo-header carries the peer (the IP destination), not 224.0.0.18.
		name: "v3 unicast to the peer, 100 cs",
		ad:   Advertisement{Version: 3, VRID: 53, Priority: 150, Interval: time.Second, Addresses: []netip.Addr{vip4}},
		src:  src, dst: peer,
		wire: []byte{0x31, 0x35, 0x96, 0x01, 0x00, 0x64, 0xb8, 0xd1, 0xc6, 0x33, 0x64, 0x78},
	},
	{
		name: "v3 unicast to the peer, priority 0",
		ad:   Advertisement{Version: 3, VRID: 53, Priority: 0, Interval: time.Second, Addresses: []netip.Addr{vip4}},
		src:  src, dst: peer,
		wire: []byte{0x31, 0x35, 0x00, 0x01, 0x00, 0x64, 0x4e, 0xd2, 0xc6, 0x33, 0x64, 0x78},
	},
}

// rfc1071 is an Internet checksum written independently of the package's.
func rfc1071(version uint8, msg []byte, s, d netip.Addr) uint16 {
	var buf []byte
	if version == 3 && s.Is6() {
		s16, d16 := s.As16(), d.As16()
		buf = append(buf, s16[:]...)
		buf = append(buf, d16[:]...)
		buf = append(buf, 0, 0, byte(len(msg)>>8), byte(len(msg)), 0, 0, 0, Protocol)
	} else if version == 3 {
		s4, d4 := s.As4(), d.As4()
		buf = append(buf, s4[:]...)
		buf = append(buf, d4[:]...)
		buf = append(buf, 0, Protocol, byte(len(msg)>>8), byte(len(msg)))
	}
	m := append([]byte(nil), msg...)
	m[6], m[7] = 0, 0
	buf = append(buf, m...)
	if len(buf)%2 == 1 {
		buf = append(buf, 0)
	}
	var sum uint32
	for i := 0; i < len(buf); i += 2 {
		sum += uint32(buf[i])<<8 | uint32(buf[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

func TestGolden(t *testing.T) {
	all := append(golden[:len(golden):len(golden)], captured...)
	for _, g := range all {
		t.Run(g.name, func(t *testing.T) {
			if want := rfc1071(g.ad.Version, g.wire, g.src, g.dst); uint16(g.wire[6])<<8|uint16(g.wire[7]) != want {
				t.Fatalf("golden checksum %02x%02x, independent sum %04x", g.wire[6], g.wire[7], want)
			}
			if n := g.ad.Len(); n != len(g.wire) {
				t.Errorf("Len = %d, want %d", n, len(g.wire))
			}
			got, err := g.ad.Marshal(g.src, g.dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, g.wire) {
				t.Fatalf("Marshal:\n got % x\nwant % x", got, g.wire)
			}
			ad, err := Unmarshal(g.wire, g.src, g.dst)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*ad, g.ad) {
				t.Fatalf("Unmarshal: %+v, want %+v", *ad, g.ad)
			}
			again, err := ad.Marshal(g.src, g.dst)
			if err != nil || !bytes.Equal(again, g.wire) {
				t.Fatalf("round trip: % x, %v", again, err)
			}
		})
	}
}

func TestV3ChecksumDependsOnThePseudoHeader(t *testing.T) {
	mc, uc := golden[2].wire, golden[3].wire
	if bytes.Equal(mc, uc) {
		t.Fatal("multicast and unicast encodings are equal")
	}
	if !bytes.Equal(mc[:6], uc[:6]) || !bytes.Equal(mc[8:], uc[8:]) {
		t.Fatal("multicast and unicast encodings differ beyond the checksum")
	}
	if _, err := Unmarshal(uc, src, group); !errors.Is(err, ErrBadChecksum) {
		t.Fatalf("unicast packet verified against 224.0.0.18: %v", err)
	}
	if _, err := Unmarshal(mc, src, peer); !errors.Is(err, ErrBadChecksum) {
		t.Fatalf("multicast packet verified against the peer: %v", err)
	}
	// v2 has no pseudo-header: any addresses, even none, will do.
	if _, err := Unmarshal(golden[0].wire, netip.Addr{}, netip.MustParseAddr("2001:db8::1")); err != nil {
		t.Fatalf("v2 looked at src/dst: %v", err)
	}
}

func TestReservedBitsIgnored(t *testing.T) {
	w := append([]byte(nil), golden[2].wire...)
	w[4] |= 0xf0
	// Fix the checksum for the changed word so only the reserved bits differ.
	sum := rfc1071(3, w, src, group)
	w[6], w[7] = byte(sum>>8), byte(sum)
	ad, err := Unmarshal(w, src, group)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*ad, golden[2].ad) {
		t.Fatalf("%+v", *ad)
	}
	// Sent as zero again.
	if out, _ := ad.Marshal(src, group); !bytes.Equal(out, golden[2].wire) {
		t.Fatalf("reserved bits re-sent: % x", out)
	}
}

// TestChecksumZero: a message whose sum is 0xffff has checksum 0x0000, and
// 0xffff, the other one's-complement zero, is accepted too (keepalived sums
// the whole message, checksum included, and wants 0: both forms give that).
func TestChecksumZero(t *testing.T) {
	// golden[0] with the last authentication word chosen (0x1e32, its old
	// checksum) so that the words sum to exactly 0xffff.
	zero := []byte{
		0x21, 51, 150, 1,
		0, 1, 0x00, 0x00,
		198, 51, 100, 100,
		0, 0, 0, 0, 0, 0, 0x1e, 0x32,
	}
	if s := rfc1071(2, zero, src, group); s != 0 {
		t.Fatalf("test vector sums to %#04x", s)
	}
	ones := append([]byte(nil), zero...)
	ones[6], ones[7] = 0xff, 0xff
	want := Advertisement{Version: 2, VRID: 51, Priority: 150, Interval: time.Second, Addresses: []netip.Addr{vip1},
		AuthData: [8]byte{6: 0x1e, 7: 0x32}}

	for _, tt := range []struct {
		name string
		b    []byte
	}{{"0x0000", zero}, {"0xffff", ones}} {
		t.Run(tt.name, func(t *testing.T) {
			ad, err := Unmarshal(tt.b, src, group)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*ad, want) {
				t.Fatalf("%+v", *ad)
			}
			if out, _ := ad.Marshal(src, group); !bytes.Equal(out, zero) {
				t.Fatalf("Marshal sends % x, want % x", out, zero)
			}
		})
	}
	// 0xffff is not a wildcard: for any other message it is just wrong.
	bad := append([]byte(nil), golden[0].wire...)
	bad[6], bad[7] = 0xff, 0xff
	if _, err := Unmarshal(bad, src, group); !errors.Is(err, ErrBadChecksum) {
		t.Fatalf("0xffff accepted for a message that does not sum to 0: %v", err)
	}
}

func TestUnmarshalAcceptsAH(t *testing.T) {
	// keepalived knows AH (type 2); the decoder carries it for Check to refuse.
	w := append([]byte(nil), golden[0].wire...)
	w[4] = byte(AuthAH)
	s := rfc1071(2, w, src, group)
	w[6], w[7] = byte(s>>8), byte(s)
	ad, err := Unmarshal(w, src, group)
	if err != nil || ad.AuthType != AuthAH {
		t.Fatalf("%+v %v", ad, err)
	}
	if _, err := ad.Marshal(src, group); !errors.Is(err, ErrAuthUnsupported) {
		t.Fatalf("Marshal of AH: %v", err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	v2, v3 := golden[0].wire, golden[2].wire
	v6 := netip.MustParseAddr("2001:db8::1")
	mod := func(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	// fix recomputes the checksum so that only the intended fault remains.
	fix := func(version uint8) func([]byte) []byte {
		return func(b []byte) []byte {
			s := rfc1071(version, b, src, group)
			b[6], b[7] = byte(s>>8), byte(s)
			return b
		}
	}
	tests := []struct {
		name   string
		b      []byte
		src    netip.Addr
		dst    netip.Addr
		err    error
		reason Reason
	}{
		{"empty", nil, src, group, ErrTooShort, ReasonTooShort},
		{"7 bytes", v3[:7], src, group, ErrTooShort, ReasonTooShort},
		{"version 0", mod(v2, func(b []byte) []byte { b[0] = 0x01; return b }), src, group, ErrBadVersion, ReasonBadVersion},
		{"version 1", mod(v2, func(b []byte) []byte { b[0] = 0x11; return b }), src, group, ErrBadVersion, ReasonBadVersion},
		{"version 4", mod(v3, func(b []byte) []byte { b[0] = 0x41; return b }), src, group, ErrBadVersion, ReasonBadVersion},
		{"version 15, header only", []byte{0xf1, 51, 150, 0, 0, 1, 0, 0}, src, group, ErrBadVersion, ReasonBadVersion},
		{"type 0", mod(v2, func(b []byte) []byte { b[0] = 0x20; return b }), src, group, ErrBadType, ReasonBadType},
		{"type 2", mod(v3, func(b []byte) []byte { b[0] = 0x32; return b }), src, group, ErrBadType, ReasonBadType},
		{"v2 without its auth data", v2[:len(v2)-8], src, group, ErrLengthMismatch, ReasonLengthMismatch},
		{"v2 auth data cut short", v2[:len(v2)-1], src, group, ErrLengthMismatch, ReasonLengthMismatch},
		{"v3 with 8 auth bytes", append(append([]byte(nil), v3...), make([]byte, 8)...), src, group, ErrLengthMismatch, ReasonLengthMismatch},
		{"v2 trailing byte", append(append([]byte(nil), v2...), 0), src, group, ErrLengthMismatch, ReasonLengthMismatch},
		{"v3 trailing byte", append(append([]byte(nil), v3...), 0), src, group, ErrLengthMismatch, ReasonLengthMismatch},
		{"count too high", mod(v3, func(b []byte) []byte { b[3] = 2; return b }), src, group, ErrLengthMismatch, ReasonLengthMismatch},
		{"count too low", mod(v3, func(b []byte) []byte { b[3] = 0; return b }), src, group, ErrLengthMismatch, ReasonLengthMismatch},
		{"count 255, one address", mod(v2, func(b []byte) []byte { b[3] = 255; return b }), src, group, ErrLengthMismatch, ReasonLengthMismatch},
		{"v2 flipped bit", mod(v2, func(b []byte) []byte { b[17] ^= 0x10; return b }), src, group, ErrBadChecksum, ReasonBadChecksum},
		{"v3 flipped bit", mod(v3, func(b []byte) []byte { b[9] ^= 1; return b }), src, group, ErrBadChecksum, ReasonBadChecksum},
		{"flipped checksum bit", mod(v3, func(b []byte) []byte { b[7] ^= 0x80; return b }), src, group, ErrBadChecksum, ReasonBadChecksum},
		{"v3 checked with another destination", v3, src, peer, ErrBadChecksum, ReasonBadChecksum},
		{"v3 checked with another source", v3, peer, group, ErrBadChecksum, ReasonBadChecksum},
		{"VRID 0", mod(v3, func(b []byte) []byte { b[1] = 0; return fix(3)(b) }), src, group, ErrBadVRID, ReasonBadVRID},
		{"v2 VRID 0", mod(v2, func(b []byte) []byte { b[1] = 0; return fix(2)(b) }), src, group, ErrBadVRID, ReasonBadVRID},
		{"auth type 3", mod(v2, func(b []byte) []byte { b[4] = 3; return fix(2)(b) }), src, group, ErrUnknownAuthType, ReasonUnknownAuthType},
		{"auth type 255", mod(v2, func(b []byte) []byte { b[4] = 255; return fix(2)(b) }), src, group, ErrUnknownAuthType, ReasonUnknownAuthType},
		{"v2 interval 0", mod(v2, func(b []byte) []byte { b[5] = 0; return fix(2)(b) }), src, group, ErrBadInterval, ReasonBadInterval},
		{"v3 interval 0", mod(v3, func(b []byte) []byte { b[4], b[5] = 0, 0; return fix(3)(b) }), src, group, ErrBadInterval, ReasonBadInterval},
		{"v3 interval 0, reserved bits set", mod(v3, func(b []byte) []byte { b[4], b[5] = 0xf0, 0; return fix(3)(b) }), src, group, ErrBadInterval, ReasonBadInterval},
		{"v3 with an IPv6 source", v3, v6, group, ErrNotIPv4, ReasonMalformed},
		{"v3 IPv4 packet read as IPv6", v3, v6, MulticastGroup6(), ErrLengthMismatch, ReasonLengthMismatch},
		{"v3 with an IPv6 destination", v3, src, v6, ErrNotIPv4, ReasonMalformed},
		{"v3 with no source", v3, netip.Addr{}, group, ErrNotIPv4, ReasonMalformed},
		{"v3 with an IPv4-mapped IPv6 destination", v3, src, netip.AddrFrom16(group.As16()), ErrNotIPv4, ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ad, err := Unmarshal(tt.b, tt.src, tt.dst)
			if !errors.Is(err, tt.err) || ad != nil {
				t.Fatalf("Unmarshal = %+v, %v; want %v", ad, err, tt.err)
			}
			if r := ReasonOf(err); r != tt.reason {
				t.Errorf("ReasonOf = %q, want %q", r, tt.reason)
			}
		})
	}
}

func TestReasonOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Reason
	}{
		{"nil", nil, ReasonNone},
		{"too short", ErrTooShort, ReasonTooShort},
		{"bad version", fmt.Errorf("%w: 4", ErrBadVersion), ReasonBadVersion},
		{"bad type", ErrBadType, ReasonBadType},
		{"length", ErrLengthMismatch, ReasonLengthMismatch},
		{"checksum", fmt.Errorf("read: %w", ErrBadChecksum), ReasonBadChecksum},
		{"interval", ErrBadInterval, ReasonBadInterval},
		{"VRID", ErrBadVRID, ReasonBadVRID},
		{"unknown auth type", ErrUnknownAuthType, ReasonUnknownAuthType},
		{"auth unsupported", ErrAuthUnsupported, ReasonAuthUnsupported},
		{"not IPv4", ErrNotIPv4, ReasonMalformed},
		{"too many addresses", ErrTooManyAddresses, ReasonMalformed},
		{"foreign error", errors.New("boom"), ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := ReasonOf(tt.err); r != tt.want {
				t.Fatalf("ReasonOf(%v) = %q, want %q", tt.err, r, tt.want)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	ok := func(f func(*Advertisement)) Advertisement {
		a := Advertisement{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addresses: []netip.Addr{vip1}}
		f(&a)
		return a
	}
	many := make([]netip.Addr, 256)
	for i := range many {
		many[i] = vip1
	}
	tests := []struct {
		name     string
		ad       Advertisement
		src, dst netip.Addr
		err      error
	}{
		{"version 0", ok(func(a *Advertisement) { a.Version = 0 }), src, group, ErrBadVersion},
		{"version 4", ok(func(a *Advertisement) { a.Version = 4 }), src, group, ErrBadVersion},
		{"VRID 0", ok(func(a *Advertisement) { a.VRID = 0 }), src, group, ErrBadVRID},
		{"v2 1500ms", ok(func(a *Advertisement) { a.Version = 2; a.Interval = 1500 * time.Millisecond }), src, group, ErrBadInterval},
		{"v2 256s", ok(func(a *Advertisement) { a.Version = 2; a.Interval = 256 * time.Second }), src, group, ErrBadInterval},
		{"v2 100ms", ok(func(a *Advertisement) { a.Version = 2; a.Interval = 100 * time.Millisecond }), src, group, ErrBadInterval},
		{"v3 5ms", ok(func(a *Advertisement) { a.Interval = 5 * time.Millisecond }), src, group, ErrBadInterval},
		{"v3 15ms", ok(func(a *Advertisement) { a.Interval = 15 * time.Millisecond }), src, group, ErrBadInterval},
		{"v3 41s", ok(func(a *Advertisement) { a.Interval = 41 * time.Second }), src, group, ErrBadInterval},
		{"v3 40.96s", ok(func(a *Advertisement) { a.Interval = 40960 * time.Millisecond }), src, group, ErrBadInterval},
		{"zero interval", ok(func(a *Advertisement) { a.Interval = 0 }), src, group, ErrBadInterval},
		{"negative interval", ok(func(a *Advertisement) { a.Interval = -time.Second }), src, group, ErrBadInterval},
		{"256 addresses", ok(func(a *Advertisement) { a.Addresses = many }), src, group, ErrTooManyAddresses},
		{"IPv6 address", ok(func(a *Advertisement) { a.Addresses = []netip.Addr{netip.MustParseAddr("2001:db8::1")} }), src, group, ErrFamily},
		{"v2 IPv6 address", ok(func(a *Advertisement) { a.Version = 2; a.Addresses = []netip.Addr{netip.MustParseAddr("2001:db8::1")} }), src, group, ErrNotIPv4},
		{"zero address", ok(func(a *Advertisement) { a.Addresses = []netip.Addr{{}} }), src, group, ErrFamily},
		{"IPv4 address from IPv6", ok(func(*Advertisement) {}), netip.MustParseAddr("fe80::1"), MulticastGroup6(), ErrFamily},
		{"v3 with auth type", ok(func(a *Advertisement) { a.AuthType = AuthPass }), src, group, ErrAuthUnsupported},
		{"v3 with auth data", ok(func(a *Advertisement) { a.AuthData = [8]byte{'x'} }), src, group, ErrAuthUnsupported},
		{"v2 AH", ok(func(a *Advertisement) { a.Version = 2; a.AuthType = AuthAH }), src, group, ErrAuthUnsupported},
		{"v2 unknown auth", ok(func(a *Advertisement) { a.Version = 2; a.AuthType = 9 }), src, group, ErrUnknownAuthType},
		{"v3 without a destination", ok(func(*Advertisement) {}), src, netip.Addr{}, ErrNotIPv4},
		{"v3 with an IPv6 source", ok(func(*Advertisement) {}), netip.MustParseAddr("2001:db8::1"), group, ErrNotIPv4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.ad.Marshal(tt.src, tt.dst); !errors.Is(err, tt.err) || b != nil {
				t.Fatalf("Marshal = % x, %v; want %v", b, err, tt.err)
			}
		})
	}
}

func TestMarshalLimits(t *testing.T) {
	many := make([]netip.Addr, MaxAddresses)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
	}
	tests := []struct {
		name string
		ad   Advertisement
		// interval field as sent: v2 byte 5, v3 bytes 4-5
		field uint16
	}{
		{"v2 1s", Advertisement{Version: 2, VRID: 1, Interval: time.Second}, 1},
		{"v2 255s", Advertisement{Version: 2, VRID: 255, Interval: 255 * time.Second}, 255},
		{"v3 10ms", Advertisement{Version: 3, VRID: 1, Interval: 10 * time.Millisecond}, 1},
		{"v3 40.95s", Advertisement{Version: 3, VRID: 255, Interval: 40950 * time.Millisecond}, 0x0fff},
		{"v2 255 addresses", Advertisement{Version: 2, VRID: 1, Interval: time.Second, Addresses: many}, 1},
		{"v3 255 addresses", Advertisement{Version: 3, VRID: 1, Interval: time.Second, Addresses: many}, 100},
		{"v3 no addresses", Advertisement{Version: 3, VRID: 1, Interval: time.Second}, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.ad.Marshal(src, group)
			if err != nil {
				t.Fatal(err)
			}
			field := uint16(b[4])<<8 | uint16(b[5])
			if tt.ad.Version == 2 {
				field = uint16(b[5])
			}
			if field != tt.field || int(b[3]) != len(tt.ad.Addresses) {
				t.Fatalf("interval field %#x count %d: % x", field, b[3], b)
			}
			if s := rfc1071(tt.ad.Version, b, src, group); uint16(b[6])<<8|uint16(b[7]) != s {
				t.Fatalf("checksum %02x%02x, want %04x", b[6], b[7], s)
			}
			ad, err := Unmarshal(b, src, group)
			if err != nil {
				t.Fatal(err)
			}
			if ad.Interval != tt.ad.Interval || len(ad.Addresses) != len(tt.ad.Addresses) {
				t.Fatalf("round trip: %+v", ad)
			}
		})
	}
}

func TestPassword(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      [8]byte
		truncated bool
	}{
		{"empty", "", [8]byte{}, false},
		{"padded", "secret1", [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1', 0}, false},
		{"exactly 8", "12345678", [8]byte{'1', '2', '3', '4', '5', '6', '7', '8'}, false},
		{"9 truncated", "123456789", [8]byte{'1', '2', '3', '4', '5', '6', '7', '8'}, true},
		{"long truncated", "secret1-and-more", [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1', '-'}, true},
		{"bytes, not runes", "ééééé", [8]byte{0xc3, 0xa9, 0xc3, 0xa9, 0xc3, 0xa9, 0xc3, 0xa9}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, truncated := Password(tt.in)
			if got != tt.want || truncated != tt.truncated {
				t.Fatalf("Password(%q) = %q %v, want %q %v", tt.in, got, truncated, tt.want, tt.truncated)
			}
		})
	}
}

func TestAuthTypeString(t *testing.T) {
	tests := []struct {
		at   AuthType
		want string
	}{
		{AuthNone, "none"},
		{AuthPass, "PASS"},
		{AuthAH, "AH"},
		{9, "auth type 9"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.at.String(); got != tt.want {
				t.Fatalf("%d: %q, want %q", uint8(tt.at), got, tt.want)
			}
		})
	}
}

func TestConstants(t *testing.T) {
	if Protocol != 112 || TTL != 255 || MaxAddresses != 255 {
		t.Fatalf("Protocol %d TTL %d MaxAddresses %d", Protocol, TTL, MaxAddresses)
	}
	if g := MulticastGroup(); g != netip.MustParseAddr("224.0.0.18") {
		t.Fatalf("MulticastGroup = %v", g)
	}
}
