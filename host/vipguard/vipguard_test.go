package vipguard

import (
	"net"
	"net/netip"
	"testing"

	"github.com/hasidecar/hasidecar/host/ndp"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

var (
	ours  = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	other = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	vip   = netip.MustParseAddr("198.51.100.100")
)

func arpFrame(t testing.TB, op arp.Operation, srcMAC net.HardwareAddr, sender netip.Addr, target netip.Addr) []byte {
	p, err := arp.NewPacket(op, srcMAC, sender, ethernet.Broadcast, target)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.MarshalBinary()
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: srcMAC, EtherType: ethernet.EtherTypeARP, Payload: b}
	out, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseClaim(t *testing.T) {
	probe, err := ProbeFrame(other, vip)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		frame []byte
		ok    bool
	}{
		{"gratuitous ARP from another MAC", arpFrame(t, arp.OperationRequest, other, vip, vip), true},
		{"reply from another MAC", arpFrame(t, arp.OperationReply, other, vip, netip.MustParseAddr("198.51.100.1")), true},
		{"our own announcement", arpFrame(t, arp.OperationRequest, ours, vip, vip), false},
		{"a probe claims nothing", probe, false},
		{"not ARP", []byte{1, 2, 3}, false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := ParseClaim(tt.frame, ours)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tt.ok, c)
			}
			if ok && (c.Addr != vip || c.MAC.String() != other.String()) {
				t.Fatalf("claim %+v", c)
			}
		})
	}
	if _, err := ProbeFrame(ours, netip.MustParseAddr("2001:db8:51::1")); err == nil {
		t.Error("an IPv6 probe was built")
	}
}

func FuzzParseClaim(f *testing.F) {
	f.Add(arpFrame(f, arp.OperationRequest, other, vip, vip))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseClaim(b, ours)
	})
}

func TestParseAdvertClaim(t *testing.T) {
	own := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	other := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	vip := netip.MustParseAddr("2001:db8:51::100")
	frame := func(mac net.HardwareAddr, target netip.Addr) []byte {
		f, err := ndp.Frame(mac, target, false)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if c, ok := ParseAdvertClaim(frame(other, vip), own); !ok || c.Addr != vip || c.MAC.String() != other.String() {
		t.Errorf("another MAC's advert: %+v %v", c, ok)
	}
	for name, f := range map[string][]byte{
		"our own":        frame(own, vip),
		"a virtual MAC":  frame(net.HardwareAddr{0, 0, 0x5e, 0, 2, 51}, vip),
		"a link-local":   frame(other, netip.MustParseAddr("fe80::1")),
		"an ARP frame":   {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06},
		"nothing at all": nil,
	} {
		if c, ok := ParseAdvertClaim(f, own); ok {
			t.Errorf("%s taken for a claim: %+v", name, c)
		}
	}
}
