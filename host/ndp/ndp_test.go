package ndp

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// capturedNA is the unsolicited neighbour advertisement keepalived 2.2.7
// sent for 2001:db8:51::101 from be:d9:fe:8a:09:56 (a namespace that did not
// forward IPv6), as tcpdump showed it.
var capturedNA = []byte{
	0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0xbe, 0xd9, 0xfe, 0x8a, 0x09, 0x56, 0x86, 0xdd,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01,
	0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	0x88, 0x00, 0x31, 0xcf, 0x20, 0x00, 0x00, 0x00,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01,
	0x02, 0x01, 0xbe, 0xd9, 0xfe, 0x8a, 0x09, 0x56,
}

var mac = net.HardwareAddr{0xbe, 0xd9, 0xfe, 0x8a, 0x09, 0x56}

func TestFrameAsKeepalived(t *testing.T) {
	b, err := Frame(mac, netip.MustParseAddr("2001:db8:51::101"), false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, capturedNA) {
		t.Fatalf("Frame =\n% x\nwant\n% x", b, capturedNA)
	}
}

func TestFrameRouterFlag(t *testing.T) {
	b, err := Frame(mac, netip.MustParseAddr("2001:db8:51::101"), true)
	if err != nil {
		t.Fatal(err)
	}
	na := b[ethLen+ipv6Len:]
	if na[4] != flagRouter|flagOverride {
		t.Errorf("flags %#x, want Router and Override", na[4])
	}
	// The checksum still verifies: the sum over pseudo-header and message
	// is all ones.
	src := netip.MustParseAddr("2001:db8:51::101").As16()
	if c := checksum(src, allNodes.As16(), na); c != 0 {
		t.Errorf("checksum does not verify: %#04x", c)
	}
}

func TestFrameRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		mac  net.HardwareAddr
		addr netip.Addr
		want string
	}{
		{"IPv4", mac, netip.MustParseAddr("198.51.100.1"), "not a unicast IPv6"},
		{"mapped", mac, netip.MustParseAddr("::ffff:198.51.100.1"), "not a unicast IPv6"},
		{"multicast", mac, netip.MustParseAddr("ff02::1"), "not a unicast IPv6"},
		{"zero", mac, netip.Addr{}, "not a unicast IPv6"},
		{"short MAC", net.HardwareAddr{1, 2}, netip.MustParseAddr("2001:db8:51::1"), "not an Ethernet address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if b, err := Frame(tc.mac, tc.addr, false); err == nil || b != nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Frame = % x, %v; want error containing %q", b, err, tc.want)
			}
		})
	}
}

func TestForwardingBadName(t *testing.T) {
	for _, name := range []string{"", "../all", ".."} {
		if _, err := Forwarding(name); err == nil {
			t.Errorf("Forwarding(%q) accepted", name)
		}
	}
	if _, err := Forwarding("lo"); err != nil {
		t.Errorf("Forwarding(lo): %v", err)
	}
}
