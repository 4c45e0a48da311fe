package ndp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
)

func TestProbeFrame(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	b, err := ProbeFrame(mac, netip.MustParseAddr("2001:db8:51::100"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != ProbeLen || !bytes.Equal(b[0:6], []byte{0x33, 0x33, 0xff, 0x00, 0x01, 0x00}) || b[14+7] != 255 || b[14+40] != 135 {
		t.Fatalf("frame % x", b)
	}
	if !bytes.Equal(b[14+8:14+24], make([]byte, 16)) {
		t.Error("source is not the unspecified address")
	}
	group := netip.MustParseAddr("ff02::1:ff00:100").As16()
	if !bytes.Equal(b[14+24:14+40], group[:]) {
		t.Errorf("destination % x", b[14+24:14+40])
	}
	// The checksum sums to zero over the pseudo-header with it in place.
	if c := checksum([16]byte{}, group, b[14+40:]); c != 0 {
		t.Errorf("checksum does not verify: %#x", c)
	}
	if _, err := ProbeFrame(mac, netip.MustParseAddr("198.51.100.1")); err == nil {
		t.Error("an IPv4 address was accepted")
	}
}

func TestParseAdvert(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 9}
	vip := netip.MustParseAddr("2001:db8:51::100")
	na, err := Frame(mac, vip, false)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := ParseAdvert(na)
	if !ok || a.Target != vip || a.MAC.String() != mac.String() {
		t.Fatalf("ParseAdvert(our own NA) = %+v, %v", a, ok)
	}
	probe, _ := ProbeFrame(mac, vip)
	for name, f := range map[string][]byte{
		"a probe":        probe,
		"short":          na[:60],
		"not IPv6":       append([]byte{}, na[:12]...),
		"hop limit 64":   func() []byte { b := bytes.Clone(na); b[14+7] = 64; return b }(),
		"length too big": func() []byte { b := bytes.Clone(na); b[14+4] = 0xff; return b }(),
	} {
		if _, ok := ParseAdvert(f); ok {
			t.Errorf("%s parsed as an advert", name)
		}
	}
}

func FuzzParseAdvert(f *testing.F) {
	na, _ := Frame(net.HardwareAddr{2, 0, 0, 0, 0, 9}, netip.MustParseAddr("2001:db8:51::100"), true)
	f.Add(na)
	f.Fuzz(func(t *testing.T, b []byte) { ParseAdvert(b) })
}
