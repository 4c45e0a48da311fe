package packet

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
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
	if version == 3 {
		s4, d4 := s.As4(), d.As4()
		buf = append(buf, s4[:]...)
		buf = append(buf, d4[:]...)
		buf = append(buf, 0, Protocol, 0, byte(len(msg)))
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
	for _, g := range golden {
		t.Run(g.name, func(t *testing.T) {
			if want := rfc1071(g.ad.Version, g.wire, g.src, g.dst); uint16(g.wire[6])<<8|uint16(g.wire[7]) != want {
				t.Fatalf("golden checksum %02x%02x, independent sum %04x", g.wire[6], g.wire[7], want)
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
		})
	}
}

func TestV3ChecksumDependsOnThePseudoHeader(t *testing.T) {
	mc, uc := golden[2].wire, golden[3].wire
	if bytes.Equal(mc, uc) {
		t.Fatal("multicast and unicast encodings are equal")
	}
	if _, err := Unmarshal(uc, src, group); !errors.Is(err, ErrBadChecksum) {
		t.Fatalf("unicast packet verified against 224.0.0.18: %v", err)
	}
}

func TestReservedBitsIgnored(t *testing.T) {
	w := append([]byte(nil), golden[2].wire...)
	w[4] |= 0xf0
	// Fix the checksum for the changed word so only the reserved bits differ.
	sum := rfc1071(3, w, src, group)
	w[6], w[7] = byte(sum>>8), byte(sum)
	ad, err := Unmarshal(w, src, group)
	if err != nil || ad.Interval != 100*time.Millisecond {
		t.Fatalf("%+v %v", ad, err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	v2, v3 := golden[0].wire, golden[2].wire
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
		{"version 1", mod(v2, func(b []byte) []byte { b[0] = 0x11; return b }), src, group, ErrBadVersion, ReasonBadVersion},
		{"version 4", mod(v3, func(b []byte) []byte { b[0] = 0x41; return b }), src, group, ErrBadVersion, ReasonBadVersion},
		{"type 2", mod(v3, func(b []byte) []byte { b[0] = 0x32; return b }), src, group, ErrBadType, ReasonBadType},
		{"v2 without its auth data", v2[:len(v2)-8], src, group, ErrLengthMismatch, ReasonLengthMismatch},
		{"trailing byte", append(append([]byte(nil), v3...), 0), src, group, ErrLengthMismatch, ReasonLengthMismatch},
		{"count too high", mod(v3, func(b []byte) []byte { b[3] = 2; return b }), src, group, ErrLengthMismatch, ReasonLengthMismatch},
		{"flipped bit", mod(v3, func(b []byte) []byte { b[9] ^= 1; return b }), src, group, ErrBadChecksum, ReasonBadChecksum},
		{"v3 checked with another destination", v3, src, peer, ErrBadChecksum, ReasonBadChecksum},
		{"VRID 0", mod(v3, func(b []byte) []byte { b[1] = 0; return fix(3)(b) }), src, group, ErrBadVRID, ReasonBadVRID},
		{"unknown auth type", mod(v2, func(b []byte) []byte { b[4] = 7; return fix(2)(b) }), src, group, ErrUnknownAuthType, ReasonUnknownAuthType},
		{"v2 interval 0", mod(v2, func(b []byte) []byte { b[5] = 0; return fix(2)(b) }), src, group, ErrBadInterval, ReasonBadInterval},
		{"v3 interval 0", mod(v3, func(b []byte) []byte { b[4], b[5] = 0, 0; return fix(3)(b) }), src, group, ErrBadInterval, ReasonBadInterval},
		{"v3 with an IPv6 source", v3, netip.MustParseAddr("2001:db8::1"), group, ErrNotIPv4, ReasonMalformed},
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
	if ReasonOf(nil) != ReasonNone {
		t.Error("ReasonOf(nil) is a drop reason")
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
		name string
		ad   Advertisement
		err  error
	}{
		{"version 4", ok(func(a *Advertisement) { a.Version = 4 }), ErrBadVersion},
		{"VRID 0", ok(func(a *Advertisement) { a.VRID = 0 }), ErrBadVRID},
		{"v2 1500ms", ok(func(a *Advertisement) { a.Version = 2; a.Interval = 1500 * time.Millisecond }), ErrBadInterval},
		{"v2 256s", ok(func(a *Advertisement) { a.Version = 2; a.Interval = 256 * time.Second }), ErrBadInterval},
		{"v3 5ms", ok(func(a *Advertisement) { a.Interval = 5 * time.Millisecond }), ErrBadInterval},
		{"v3 41s", ok(func(a *Advertisement) { a.Interval = 41 * time.Second }), ErrBadInterval},
		{"zero interval", ok(func(a *Advertisement) { a.Interval = 0 }), ErrBadInterval},
		{"256 addresses", ok(func(a *Advertisement) { a.Addresses = many }), ErrTooManyAddresses},
		{"IPv6 address", ok(func(a *Advertisement) { a.Addresses = []netip.Addr{netip.MustParseAddr("2001:db8::1")} }), ErrNotIPv4},
		{"v3 with auth", ok(func(a *Advertisement) { a.AuthType = AuthPass }), ErrAuthUnsupported},
		{"v2 AH", ok(func(a *Advertisement) { a.Version = 2; a.AuthType = AuthAH }), ErrAuthUnsupported},
		{"v2 unknown auth", ok(func(a *Advertisement) { a.Version = 2; a.AuthType = 9 }), ErrUnknownAuthType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.ad.Marshal(src, group); !errors.Is(err, tt.err) || b != nil {
				t.Fatalf("Marshal = % x, %v; want %v", b, err, tt.err)
			}
		})
	}
	if _, err := golden[2].ad.Marshal(src, netip.Addr{}); !errors.Is(err, ErrNotIPv4) {
		t.Errorf("v3 without a destination: %v", err)
	}
}

func TestPassword(t *testing.T) {
	tests := []struct {
		in        string
		want      [8]byte
		truncated bool
	}{
		{"", [8]byte{}, false},
		{"secret1", [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1', 0}, false},
		{"12345678", [8]byte{'1', '2', '3', '4', '5', '6', '7', '8'}, false},
		{"123456789", [8]byte{'1', '2', '3', '4', '5', '6', '7', '8'}, true},
	}
	for _, tt := range tests {
		got, truncated := Password(tt.in)
		if got != tt.want || truncated != tt.truncated {
			t.Errorf("Password(%q) = %q %v", tt.in, got, truncated)
		}
	}
}

func TestAuthTypeNames(t *testing.T) {
	for at, want := range map[AuthType]string{AuthNone: "none", AuthPass: "PASS", AuthAH: "AH", 9: "auth type 9"} {
		if !strings.EqualFold(at.String(), want) {
			t.Errorf("%d: %q", at, at.String())
		}
	}
}
