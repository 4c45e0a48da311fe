package vrrpconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/hasidecar/hasidecar/internal/netlab"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// advert6 is keepalived's VRRPv3 advert over IPv6 as captured (VRID 51, two
// addresses); the socket does not look inside.
var advert6 = []byte{0x31, 0x33, 0x96, 0x02, 0x00, 0x64, 0x48, 0xa1,
	0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x51,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00}

// nodeLinkLocal is the link-local address of node's interface.
func nodeLinkLocal(t *testing.T, node *netlab.Node) netip.Addr {
	t.Helper()
	var ll netip.Addr
	if err := node.Do(func() error {
		var err error
		ll, err = linkLocal(node.Iface)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ll
}

// sendUntil resends payload from c to dst until r has a packet.
func sendUntil(t *testing.T, c, r *Conn, payload []byte, dst netip.Addr) Packet {
	t.Helper()
	done := receiveAsync(r)
	deadline := time.After(5 * time.Second)
	for {
		if err := c.Send(payload, dst); err != nil {
			t.Fatalf("Send: %v", err)
		}
		select {
		case got := <-done:
			if got.err != nil {
				t.Fatalf("Receive: %v", got.err)
			}
			return got.pkt
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("nothing received within 5s")
		}
	}
}

func TestIPv6MulticastAdvertReachesPeer(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	ca := open(t, a, Options{Interface: a.Iface, Multicast: true, IPv6: true})
	cb := open(t, b, Options{Interface: b.Iface, Multicast: true, IPv6: true})
	if ll := nodeLinkLocal(t, a); ca.Source() != ll || !ll.IsLinkLocalUnicast() {
		t.Errorf("Source() = %s, want the link-local %s", ca.Source(), ll)
	}
	p := sendUntil(t, ca, cb, advert6, MulticastGroup6)
	if p.Src != ca.Source() || p.Dst != MulticastGroup6 || p.TTL != HopLimit || !bytes.Equal(p.Payload, advert6) {
		t.Errorf("got %+v; want from %s to ff02::12, hop limit 255, payload % x", p, ca.Source(), advert6)
	}
	if want := ifIndex(t, b); p.IfIndex != want {
		t.Errorf("IfIndex = %d, want %d", p.IfIndex, want)
	}
	// Multicast loopback is off: A never hears itself.
	expectNothing(t, ca, 300*time.Millisecond)
}

func TestIPv6UnicastAdvertReachesPeer(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	ca := open(t, a, Options{Interface: a.Iface, Source: a.Addr6, IPv6: true})
	cb := open(t, b, Options{Interface: b.Iface, Source: b.Addr6, IPv6: true})
	p := sendUntil(t, ca, cb, advert6, b.Addr6)
	if p.Src != a.Addr6 || p.Dst != b.Addr6 || p.TTL != HopLimit {
		t.Errorf("got %+v; want from %s to %s with hop limit 255", p, a.Addr6, b.Addr6)
	}
	// A multicast Conn on B does not see unicast adverts, and a unicast one
	// no multicast ones.
	mb := open(t, b, Options{Interface: b.Iface, Multicast: true, IPv6: true})
	if err := ca.Send(advert6, b.Addr6); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, mb, 300*time.Millisecond)
}

func TestIPv6NoLinkLocal(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	a := lab.Nodes[0]
	if err := a.Do(func() error {
		link, err := netlink.LinkByName(a.Iface)
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
		if err != nil {
			return err
		}
		for _, ad := range addrs {
			if ad.IP.IsLinkLocalUnicast() {
				if err := netlink.AddrDel(link, &ad); err != nil {
					return err
				}
			}
		}
		_, err = Open(t.Context(), Options{Interface: a.Iface, Multicast: true, IPv6: true})
		if !errors.Is(err, ErrNoLinkLocal) || !strings.Contains(err.Error(), "link-local") {
			t.Errorf("Open without a link-local address: %v; want ErrNoLinkLocal", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestReceivesKeepalivedIPv6: the IPv6 adverts of a real keepalived 2.2.7
// reach our socket with the facts the VRRP checks need, in both modes.
func TestReceivesKeepalivedIPv6(t *testing.T) {
	t.Parallel()
	netlab.RequireKeepalived(t)
	for _, unicast := range []bool{false, true} {
		name := "multicast"
		if unicast {
			name = "unicast"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			lab := netlab.New(t, 2)
			ka, we := lab.Nodes[0], lab.Nodes[1]
			cfg := netlab.KeepalivedConfig{
				State: "MASTER", VRID: 51, Priority: 150, Version: 3,
				VIPs: []netip.Prefix{netip.MustParsePrefix("2001:db8:51::100/64")},
			}
			opts := Options{Interface: we.Iface, Multicast: true, IPv6: true}
			from, want := nodeLinkLocal(t, ka), MulticastGroup6
			if unicast {
				cfg.UnicastSource, cfg.UnicastPeers = ka.Addr6, []netip.Addr{we.Addr6}
				opts = Options{Interface: we.Iface, Source: we.Addr6, IPv6: true}
				from, want = ka.Addr6, we.Addr6
			}
			c := open(t, we, opts)
			ka.StartKeepalived(t, cfg)
			p := receiveWithin(t, c, 10*time.Second)
			if p.Src != from || p.Dst != want {
				t.Errorf("got %+v; want from %s to %s", p, from, want)
			}
			// keepalived sends multicast with hop limit 255 and unicast with
			// the default, 64.
			if !unicast && p.TTL != HopLimit {
				t.Errorf("hop limit %d, want 255", p.TTL)
			}
			if len(p.Payload) != 24 || p.Payload[0] != 0x31 || p.Payload[1] != 51 {
				t.Errorf("payload = % x, want a 24-byte VRRPv3 advert for VRID 51", p.Payload)
			}
		})
	}
}

func TestAccept6(t *testing.T) {
	c := &Conn{iface: &net.Interface{Index: 2, Name: "eth0"}, source: netip.MustParseAddr("fe80::1"), v6: true}
	from := &unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: netip.MustParseAddr("fe80::2").As16()}
	oob := append(pktinfoCmsg(MulticastGroup6, 2), hopLimitCmsg(255)...)
	p, ok := c.accept6(from, advert6, oob)
	if !ok || p.Src != netip.MustParseAddr("fe80::2") || p.Dst != MulticastGroup6 || p.TTL != 255 || p.IfIndex != 2 {
		t.Fatalf("accept6 = %+v, %v", p, ok)
	}
	if _, ok := c.accept6(from, advert6, pktinfoCmsg(MulticastGroup6, 3)); ok {
		t.Error("accepted without a hop limit")
	}
	if _, ok := c.accept6(from, advert6, append(pktinfoCmsg(MulticastGroup6, 3), hopLimitCmsg(255)...)); ok {
		t.Error("accepted from another interface")
	}
	own := &unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: c.source.As16()}
	if _, ok := c.accept6(own, advert6, oob); ok {
		t.Error("accepted our own advert")
	}
	if s := c.Stats(); s.Malformed != 1 || s.OtherInterface != 1 || s.Own != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func hopLimitCmsg(h int) []byte {
	b := make([]byte, unix.CmsgSpace(4))
	hdr := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	hdr.Level, hdr.Type = unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT
	hdr.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], uint32(h))
	return b
}

// FuzzAccept6 is FuzzAccept for IPv6 sockets, which read the payload alone
// and learn the rest from the sender's address and control messages.
func FuzzAccept6(f *testing.F) {
	f.Add(advert6, append(pktinfoCmsg(MulticastGroup6, 2), hopLimitCmsg(255)...), netip.MustParseAddr("fe80::2").AsSlice())
	f.Add(advert6, pktinfoCmsg(MulticastGroup6, 2), netip.MustParseAddr("2001:db8:51::2").AsSlice())
	f.Add([]byte{}, hopLimitCmsg(1000), []byte{})
	f.Add([]byte{0x31}, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 41, 0, 0, 0, 50, 0, 0, 0}, []byte{0xfe, 0x80})
	f.Fuzz(func(t *testing.T, payload, oob, from []byte) {
		c := &Conn{iface: &net.Interface{Index: 2, Name: "eth0"}, source: netip.MustParseAddr("fe80::1"), v6: true}
		sa := &unix.RawSockaddrInet6{Family: unix.AF_INET6}
		copy(sa.Addr[:], from)
		p, ok := c.accept6(sa, payload, oob)
		if ok && (!bytes.Equal(p.Payload, payload) || !p.Dst.IsValid() || p.IfIndex != 2) {
			t.Fatalf("accepted %+v from % x", p, payload)
		}
	})
}
