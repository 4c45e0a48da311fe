package packet

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var (
	src6  = netip.MustParseAddr("fe80::bcd9:feff:fe8a:956")
	peer6 = netip.MustParseAddr("2001:db8:51::2")
)

// Captured from keepalived 2.2.7 (Debian's package) over IPv6: a MASTER in
// a throwaway network namespace, va with 2001:db8:51::1/64 and its
// link-local fe80::bcd9:feff:fe8a:956, read with tcpdump on the other end of
// the veth. The multicast advert arrived with hop limit 255 and traffic
// class 0xc0; the unicast one with traffic class 0xc0 and hop limit 64 (so
// keepalived does not send unicast IPv6 adverts with 255, and checks no hop
// limit on unicast). The instances were:
//
//	VRID 51, advert_int 1, VIPs fe80::51/64 and 2001:db8:51::100/64, multicast
//	VRID 52, advert_int 0.1, unicast_src_ip 2001:db8:51::1, unicast_peer
//	2001:db8:51::2, VIP 2001:db8:51::101/64
var captured6 = []struct {
	name     string
	ad       Advertisement
	src, dst netip.Addr
	wire     []byte
}{
	{
		name: "v3 IPv6 multicast, link-local first",
		ad: Advertisement{Version: 3, VRID: 51, Priority: 150, Interval: time.Second,
			Addresses: []netip.Addr{netip.MustParseAddr("fe80::51"), netip.MustParseAddr("2001:db8:51::100")}},
		src: src6, dst: MulticastGroup6(),
		wire: []byte{0x31, 0x33, 0x96, 0x02, 0x00, 0x64, 0x48, 0xa1,
			0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x51,
			0x20, 0x01, 0x0d, 0xb8, 0x00, 0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00},
	},
	{
		name: "v3 IPv6 unicast: the peer in the pseudo-header",
		ad: Advertisement{Version: 3, VRID: 52, Priority: 150, Interval: 100 * time.Millisecond,
			Addresses: []netip.Addr{netip.MustParseAddr("2001:db8:51::101")}},
		src: netip.MustParseAddr("2001:db8:51::1"), dst: peer6,
		wire: []byte{0x31, 0x34, 0x96, 0x01, 0x00, 0x0a, 0xad, 0x15,
			0x20, 0x01, 0x0d, 0xb8, 0x00, 0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01},
	},
}

func TestCapturedIPv6(t *testing.T) {
	for _, g := range captured6 {
		t.Run(g.name, func(t *testing.T) {
			if want := rfc1071(3, g.wire, g.src, g.dst); uint16(g.wire[6])<<8|uint16(g.wire[7]) != want {
				t.Fatalf("captured checksum %02x%02x, independent sum %04x", g.wire[6], g.wire[7], want)
			}
			b, err := g.ad.Marshal(g.src, g.dst)
			if err != nil || !bytes.Equal(b, g.wire) {
				t.Fatalf("Marshal = % x, %v\nwant       % x", b, err, g.wire)
			}
			if g.ad.Len() != len(g.wire) {
				t.Errorf("Len = %d, want %d", g.ad.Len(), len(g.wire))
			}
			ad, err := Unmarshal(g.wire, g.src, g.dst)
			if err != nil || !reflect.DeepEqual(*ad, g.ad) {
				t.Fatalf("Unmarshal = %+v, %v; want %+v", ad, err, g.ad)
			}
			want := Expectation{Version: 3, VRID: g.ad.VRID, Interval: time.Second, Addresses: g.ad.Addresses, Multicast: g.dst.IsMulticast()}
			if r := CheckDestination(g.dst, want); r != ReasonNone {
				t.Errorf("CheckDestination = %q", r)
			}
			if r := Check(ad, 255, want); r != ReasonNone {
				t.Errorf("Check = %q", r)
			}
		})
	}
}

func TestUnmarshalErrorsIPv6(t *testing.T) {
	mc := captured6[0]
	mod := func(f func([]byte)) []byte {
		b := append([]byte(nil), mc.wire...)
		f(b)
		return b
	}
	fixSum := func(b []byte) {
		s := rfc1071(3, b, mc.src, mc.dst)
		b[6], b[7] = byte(s>>8), byte(s)
	}
	v4src := netip.MustParseAddr("198.51.100.1")
	tests := []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		err      error
		reason   Reason
	}{
		{"v2 over IPv6", mod(func(b []byte) { b[0] = 0x21; fixSum(b) }), mc.src, mc.dst, ErrBadVersion, ReasonBadVersion},
		{"address cut short", mc.wire[:len(mc.wire)-4], mc.src, mc.dst, ErrLengthMismatch, ReasonLengthMismatch},
		{"count of IPv4 width", mod(func(b []byte) { b[3] = 8 }), mc.src, mc.dst, ErrLengthMismatch, ReasonLengthMismatch},
		{"flipped address bit", mod(func(b []byte) { b[30] ^= 1 }), mc.src, mc.dst, ErrBadChecksum, ReasonBadChecksum},
		{"another source", mc.wire, netip.MustParseAddr("fe80::1"), mc.dst, ErrBadChecksum, ReasonBadChecksum},
		{"another destination", mc.wire, mc.src, peer6, ErrBadChecksum, ReasonBadChecksum},
		{"IPv4 destination", mc.wire, mc.src, MulticastGroup(), ErrNotIPv4, ReasonMalformed},
		{"IPv4 source", mc.wire, v4src, mc.dst, ErrNotIPv4, ReasonMalformed},
		{"VRID 0", mod(func(b []byte) { b[1] = 0; fixSum(b) }), mc.src, mc.dst, ErrBadVRID, ReasonBadVRID},
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

func TestCheckIPv6(t *testing.T) {
	ad, err := Unmarshal(captured6[0].wire, captured6[0].src, captured6[0].dst)
	if err != nil {
		t.Fatal(err)
	}
	want := Expectation{Version: 3, VRID: 51, Addresses: ad.Addresses, Multicast: true}
	if r := Check(ad, 64, want); r != ReasonBadTTL {
		t.Errorf("multicast hop limit 64: %q, want %q", r, ReasonBadTTL)
	}
	uni := want
	uni.Multicast = false
	if r := Check(ad, 64, uni); r != ReasonNone {
		t.Errorf("unicast hop limit 64 (as keepalived sends): %q, want accepted", r)
	}
	if r := CheckDestination(MulticastGroup6(), uni); r != ReasonWrongDestination {
		t.Errorf("multicast to a unicast instance: %q", r)
	}
	other := want
	other.Addresses = []netip.Addr{ad.Addresses[1], netip.MustParseAddr("fe80::52")}
	if r := Check(ad, 255, other); r != ReasonAddressList {
		t.Errorf("other addresses: %q, want %q", r, ReasonAddressList)
	}
	if Group(src6) != MulticastGroup6() || Group(src) != MulticastGroup() {
		t.Error("Group picks the wrong family")
	}
}
