package garp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
	"github.com/mdlayher/packet"
)

// TestAnnounceIPv6ReachesPeer: an IPv6 address gets an unsolicited
// neighbour advertisement (ndp.Frame) on the wire, to ff02::1, with the
// Router flag following the interface's forwarding setting.
func TestAnnounceIPv6ReachesPeer(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	vip := netlab.Address6(100)
	var sniff *packet.Conn
	if err := b.Do(func() error {
		ifi, err := net.InterfaceByName(b.Iface)
		if err != nil {
			return err
		}
		sniff, err = packet.Listen(ifi, packet.Raw, 0x86dd, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sniff.Close() })
	ann := announcer(t, a)
	mac := ann.HardwareAddr()

	for _, router := range []bool{false, true} {
		if router {
			a.Run(t, "sysctl", "-qw", "net.ipv6.conf."+a.Iface+".forwarding=1")
		}
		// In a's namespace: the Router flag reads its /proc/sys.
		if err := a.Do(func() error { return ann.Announce([]netip.Addr{netlab.Address(100), vip}) }); err != nil {
			t.Fatalf("Announce: %v", err)
		}
		f := readNA(t, sniff, vip)
		if !bytes.Equal(f[0:6], []byte{0x33, 0x33, 0, 0, 0, 1}) || !bytes.Equal(f[6:12], mac) {
			t.Errorf("Ethernet % x -> % x, want our MAC to 33:33:00:00:00:01", f[6:12], f[0:6])
		}
		if f[14+7] != 255 {
			t.Errorf("hop limit %d, want 255", f[14+7])
		}
		flags := f[14+40+4]
		if want := byte(0x20) | map[bool]byte{true: 0x80}[router]; flags != want {
			t.Errorf("forwarding %v: flags %#x, want %#x", router, flags, want)
		}
		if !bytes.Equal(f[len(f)-6:], mac) {
			t.Errorf("target link-layer address % x, want %s", f[len(f)-6:], mac)
		}
	}
}

// readNA returns the next neighbour advertisement for target.
func readNA(t *testing.T, c *packet.Conn, target netip.Addr) []byte {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	c.SetReadDeadline(deadline)
	buf := make([]byte, 1500)
	tgt := target.As16()
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no neighbour advertisement for %s: %v", target, err)
		}
		f := buf[:n]
		if n >= 14+40+24 && f[14+6] == 58 && f[14+40] == 136 && bytes.Equal(f[14+40+8:14+40+24], tgt[:]) {
			return append([]byte(nil), f...)
		}
	}
}
