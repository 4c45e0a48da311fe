package garp

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// keepalivedFrame is a gratuitous ARP that keepalived 2.2.7 sent for
// 198.51.100.100 from d2:99:af:22:0a:0e, as tcpdump showed it (42 bytes; the
// rest is the Ethernet minimum-length padding).
var keepalivedFrame = []byte{
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd2, 0x99, 0xaf, 0x22, 0x0a, 0x0e, 0x08, 0x06, // Ethernet
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // Ethernet/IPv4, request
	0xd2, 0x99, 0xaf, 0x22, 0x0a, 0x0e, 0xc6, 0x33, 0x64, 0x64, // sender: our MAC, the VIP
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc6, 0x33, 0x64, 0x64, // target: broadcast, the VIP
}

func TestFrameMatchesKeepalived(t *testing.T) {
	mac := net.HardwareAddr{0xd2, 0x99, 0xaf, 0x22, 0x0a, 0x0e}
	got, err := Frame(mac, netip.MustParseAddr("198.51.100.100"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 60 {
		t.Errorf("frame length = %d, want 60 (padded minimum)", len(got))
	}
	if !bytes.Equal(got[:len(keepalivedFrame)], keepalivedFrame) {
		t.Errorf("frame =\n% x\nwant\n% x", got[:len(keepalivedFrame)], keepalivedFrame)
	}
	if pad := got[len(keepalivedFrame):]; !bytes.Equal(pad, make([]byte, len(pad))) {
		t.Errorf("padding not zero: % x", pad)
	}
}

func TestFrameRejectsBadInput(t *testing.T) {
	mac := net.HardwareAddr{0xd2, 0x99, 0xaf, 0x22, 0x0a, 0x0e}
	for _, tc := range []struct {
		name string
		mac  net.HardwareAddr
		addr netip.Addr
		want string
	}{
		{"zero address", mac, netip.Addr{}, "not an IPv4 address"},
		{"IPv6 address", mac, netip.MustParseAddr("2001:db8::1"), "not an IPv4 address"},
		{"short MAC", net.HardwareAddr{1, 2, 3}, netip.MustParseAddr("198.51.100.100"), "building gratuitous ARP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Frame(tc.mac, tc.addr); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Frame = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

// listener opens an ARP client on node's interface.
func listener(t *testing.T, node *netlab.Node) *arp.Client {
	t.Helper()
	var c *arp.Client
	if err := node.Do(func() error {
		ifi, err := net.InterfaceByName(node.Iface)
		if err != nil {
			return err
		}
		c, err = arp.Dial(ifi)
		return err
	}); err != nil {
		t.Fatalf("%s: ARP listener: %v", node.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func announcer(t *testing.T, node *netlab.Node) *Announcer {
	t.Helper()
	var a *Announcer
	if err := node.Do(func() error {
		var err error
		a, err = NewAnnouncer(node.Iface)
		return err
	}); err != nil {
		t.Fatalf("%s: NewAnnouncer: %v", node.Name, err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// readAnnouncement reads ARP on c until a request whose sender IP is one of
// addrs arrives or d passes.
func readAnnouncement(c *arp.Client, addrs []netip.Addr, d time.Duration) (*arp.Packet, *ethernet.Frame, error) {
	c.SetReadDeadline(time.Now().Add(d))
	for {
		p, f, err := c.Read()
		if err != nil {
			return nil, nil, err
		}
		for _, a := range addrs {
			if p.SenderIP == a {
				return p, f, nil
			}
		}
	}
}

func TestAnnounceReachesPeer(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	sniff := listener(t, b)
	ann := announcer(t, a)
	mac, err := net.ParseMAC(a.MAC(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ann.HardwareAddr(), mac) {
		t.Errorf("HardwareAddr = %s, want %s", ann.HardwareAddr(), mac)
	}
	vips := []netip.Addr{netlab.Address(100), netlab.Address(101)}

	if err := ann.Announce(vips); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	seen := map[netip.Addr]bool{}
	for len(seen) < len(vips) {
		p, f, err := readAnnouncement(sniff, vips, 5*time.Second)
		if err != nil {
			t.Fatalf("waiting for announcements of %v (seen %v): %v", vips, seen, err)
		}
		seen[p.SenderIP] = true
		if !bytes.Equal(f.Destination, ethernet.Broadcast) || !bytes.Equal(f.Source, mac) {
			t.Errorf("Ethernet %s -> %s, want %s -> broadcast", f.Source, f.Destination, mac)
		}
		if p.Operation != arp.OperationRequest || p.TargetIP != p.SenderIP ||
			!bytes.Equal(p.SenderHardwareAddr, mac) || !bytes.Equal(p.TargetHardwareAddr, ethernet.Broadcast) {
			t.Errorf("ARP = %+v; want a request %s/%s -> %s/broadcast", p, mac, p.SenderIP, p.SenderIP)
		}
	}
}

// TestAnnounceBadAddressSendsNothing: one bad address fails the whole call
// before anything is sent.
func TestAnnounceBadAddressSendsNothing(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	sniff := listener(t, b)
	ann := announcer(t, a)
	good := netlab.Address(100)

	err := ann.Announce([]netip.Addr{good, netip.MustParseAddr("ff02::1")})
	if err == nil || !strings.Contains(err.Error(), "not a unicast IPv6 address") {
		t.Fatalf("Announce = %v, want an error about the multicast address", err)
	}
	if p, _, err := readAnnouncement(sniff, []netip.Addr{good}, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %+v, %v; want nothing sent", p, err)
	}
}

func TestNewAnnouncerRejectsBadInterface(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	for _, tc := range []struct{ name, iface, want string }{
		{"empty", "", "no interface"},
		{"missing", "nosuch0", "nosuch0"},
		{"not Ethernet", "lo", "not an Ethernet interface"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := lab.Nodes[0].Do(func() error {
				a, err := NewAnnouncer(tc.iface)
				if err == nil {
					a.Close()
				}
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewAnnouncer(%q) = %v, want error containing %q", tc.iface, err, tc.want)
			}
		})
	}
}
