package vrrpconn

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/host/drops"
	"github.com/hasidecar/hasidecar/internal/netlab"
	"golang.org/x/net/ipv4"
)

// advert is a VRRPv3 advertisement as keepalived sent it in the lab (vrid
// 51, priority 150, 1 s, one address); the socket does not look inside.
var advert = []byte{0x31, 0x33, 0x96, 0x01, 0x00, 0x64, 0x03, 0x0b, 0xc6, 0x33, 0x64, 0x64}

// open opens a Conn inside node's namespace and closes it at cleanup.
func open(t *testing.T, node *netlab.Node, opts Options) *Conn {
	t.Helper()
	var c *Conn
	err := node.Do(func() error {
		var err error
		c, err = Open(context.Background(), opts)
		return err
	})
	if err != nil {
		t.Fatalf("%s: Open(%+v): %v", node.Name, opts, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type received struct {
	pkt Packet
	err error
}

// receiveAsync starts one Receive and returns where its result arrives.
func receiveAsync(c *Conn) <-chan received {
	ch := make(chan received, 1)
	go func() {
		p, err := c.Receive()
		ch <- received{p, err}
	}()
	return ch
}

func receiveWithin(t *testing.T, c *Conn, d time.Duration) Packet {
	t.Helper()
	select {
	case r := <-receiveAsync(c):
		if r.err != nil {
			t.Fatalf("Receive: %v", r.err)
		}
		return r.pkt
	case <-time.After(d):
		t.Fatalf("no packet within %v", d)
		return Packet{}
	}
}

// expectNothing closes c after d and checks that the pending Receive then
// ends with ErrClosed rather than with a packet.
func expectNothing(t *testing.T, c *Conn, d time.Duration) {
	t.Helper()
	ch := receiveAsync(c)
	select {
	case r := <-ch:
		t.Fatalf("unexpected Receive result: %+v, %v", r.pkt, r.err)
	case <-time.After(d):
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case r := <-ch:
		if !errors.Is(r.err, ErrClosed) {
			t.Fatalf("Receive after Close = %+v, %v; want ErrClosed", r.pkt, r.err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
}

func ifIndex(t *testing.T, node *netlab.Node) int {
	t.Helper()
	var idx int
	if err := node.Do(func() error {
		ifi, err := net.InterfaceByName(node.Iface)
		if err != nil {
			return err
		}
		idx = ifi.Index
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestMulticastAdvertReachesPeer(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	ca := open(t, a, Options{Interface: a.Iface, Multicast: true})
	cb := open(t, b, Options{Interface: b.Iface, Multicast: true})

	if ca.Source() != a.Addr {
		t.Errorf("Source() = %s, want the primary address %s", ca.Source(), a.Addr)
	}
	done := receiveAsync(cb)
	// The join may take a moment to be effective on a fresh link; resend
	// until B has it.
	var got received
	deadline := time.After(5 * time.Second)
wait:
	for {
		if err := ca.Send(advert, MulticastGroup); err != nil {
			t.Fatalf("Send: %v", err)
		}
		select {
		case got = <-done:
			break wait
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("B received nothing within 5s")
		}
	}
	if got.err != nil {
		t.Fatalf("Receive: %v", got.err)
	}
	p := got.pkt
	if p.Src != a.Addr || p.Dst != MulticastGroup || p.TTL != TTL || !bytes.Equal(p.Payload, advert) {
		t.Errorf("got %+v; want from %s to %s, TTL 255, payload % x", p, a.Addr, MulticastGroup, advert)
	}
	if want := ifIndex(t, b); p.IfIndex != want {
		t.Errorf("IfIndex = %d, want %d", p.IfIndex, want)
	}
	if p.Received.IsZero() {
		t.Error("Received time not set")
	}
	if s := cb.Stats(); s.Delivered != 1 {
		t.Errorf("B stats = %+v, want 1 delivered", s)
	}
	// Multicast loopback is off: A never hears itself.
	expectNothing(t, ca, 300*time.Millisecond)
}

// TestHeaderOnTheWire reads A's advert on B with a plain raw socket and
// checks the header fields keepalived 2.2.7 sends.
func TestHeaderOnTheWire(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	ca := open(t, a, Options{Interface: a.Iface})

	var sniff *ipv4.RawConn
	if err := b.Do(func() error {
		pc, err := net.ListenPacket("ip4:112", b.Addr.String())
		if err != nil {
			return err
		}
		sniff, err = ipv4.NewRawConn(pc)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer sniff.Close()

	if err := ca.Send(advert, b.Addr); err != nil {
		t.Fatalf("Send: %v", err)
	}
	sniff.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, payload, _, err := sniff.ReadFrom(make([]byte, 1500))
	if err != nil {
		t.Fatalf("reading on B: %v", err)
	}
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"TOS", h.TOS, TOS},
		{"TTL", h.TTL, TTL},
		{"protocol", h.Protocol, Protocol},
		{"flags (no DF)", int(h.Flags), 0},
		{"fragment offset", h.FragOff, 0},
		{"total length", h.TotalLen, ipv4.HeaderLen + len(advert)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
	if !h.Src.Equal(net.IP(a.Addr.AsSlice())) || !h.Dst.Equal(net.IP(b.Addr.AsSlice())) {
		t.Errorf("src/dst = %s/%s, want %s/%s", h.Src, h.Dst, a.Addr, b.Addr)
	}
	if !bytes.Equal(payload, advert) {
		t.Errorf("payload = % x, want % x", payload, advert)
	}
}

func TestUnicastAdvertReachesPeer(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	ca := open(t, a, Options{Interface: a.Iface, Source: a.Addr})
	cb := open(t, b, Options{Interface: b.Iface})

	if err := ca.Send(advert, b.Addr); err != nil {
		t.Fatalf("Send: %v", err)
	}
	p := receiveWithin(t, cb, 5*time.Second)
	if p.Src != a.Addr || p.Dst != b.Addr || p.TTL != TTL || !bytes.Equal(p.Payload, advert) {
		t.Errorf("got %+v; want from %s to %s, TTL 255, payload % x", p, a.Addr, b.Addr, advert)
	}
	if want := ifIndex(t, b); p.IfIndex != want {
		t.Errorf("IfIndex = %d, want %d", p.IfIndex, want)
	}
}

// TestUnicastConnIgnoresMulticast: a unicast-mode socket is bound to its own
// address, so multicast adverts of other routers never reach it.
func TestUnicastConnIgnoresMulticast(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	ca := open(t, a, Options{Interface: a.Iface, Multicast: true})
	cb := open(t, b, Options{Interface: b.Iface})
	for range 3 {
		if err := ca.Send(advert, MulticastGroup); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	expectNothing(t, cb, 300*time.Millisecond)
}

// TestOwnSourceDropped: a packet carrying our own source address is counted
// and never returned. B forges one with A's address, then sends a real one.
// Linux itself drops packets whose source is a local address unless
// accept_local is set, so the lab sets it to let the forgery through.
func TestOwnSourceDropped(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	a.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf."+a.Iface+".accept_local=1")
	ca := open(t, a, Options{Interface: a.Iface, Multicast: true})
	forger := open(t, b, Options{Interface: b.Iface, Source: a.Addr, Multicast: true})
	honest := open(t, b, Options{Interface: b.Iface, Multicast: true})

	done := receiveAsync(ca)
	deadline := time.After(5 * time.Second)
	for {
		// The forgery goes first on the same path, so by the time the
		// honest packet is delivered the forgery has been seen.
		if err := forger.Send(advert, MulticastGroup); err != nil {
			t.Fatalf("forged Send: %v", err)
		}
		if err := honest.Send(advert, MulticastGroup); err != nil {
			t.Fatalf("Send: %v", err)
		}
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatalf("Receive: %v", r.err)
			}
			if r.pkt.Src != b.Addr {
				t.Fatalf("Receive returned a packet from %s, want only %s", r.pkt.Src, b.Addr)
			}
			if ca.Stats().Own > 0 {
				return
			}
			done = receiveAsync(ca)
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no forged packet counted within 5s; stats %+v", ca.Stats())
		}
	}
}

func TestCloseUnblocksReceive(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	a := lab.Nodes[0]
	ca := open(t, a, Options{Interface: a.Iface, Multicast: true})
	expectNothing(t, ca, 50*time.Millisecond)
	if err := ca.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := ca.Send(advert, MulticastGroup); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	a := lab.Nodes[0]
	for _, c := range []struct {
		name string
		opts Options
		want string
	}{
		{"no interface", Options{}, "no interface"},
		{"unknown interface", Options{Interface: "nosuch0"}, "nosuch0"},
		{"IPv6 source", Options{Interface: "eth0", Source: netip.MustParseAddr("2001:db8::1")}, "not an IPv4 address"},
		{"multicast source", Options{Interface: "eth0", Source: MulticastGroup}, "not a unicast address"},
		{"source not local in unicast mode", Options{Interface: "eth0", Source: netlab.Address(99)}, "bound to 198.51.100.99"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := a.Do(func() error {
				conn, err := Open(context.Background(), c.opts)
				if err == nil {
					conn.Close()
				}
				return err
			})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open(%+v) = %v, want error containing %q", c.opts, err, c.want)
			}
		})
	}
}

func TestSendRejectsBadDestination(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	a := lab.Nodes[0]
	ca := open(t, a, Options{Interface: a.Iface, Multicast: true})
	for _, c := range []struct {
		name    string
		payload []byte
		dst     netip.Addr
		want    string
	}{
		{"zero destination", advert, netip.Addr{}, "not an IPv4 address"},
		{"IPv6 destination", advert, netip.MustParseAddr("ff02::12"), "not an IPv4 address"},
		{"oversized payload", make([]byte, 70000), MulticastGroup, "too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := ca.Send(c.payload, c.dst)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Send = %v, want error containing %q", err, c.want)
			}
		})
	}
}

// TestAccept covers the receive filter without a network.
func TestAccept(t *testing.T) {
	self := netip.MustParseAddr("198.51.100.1")
	peer := netip.MustParseAddr("198.51.100.2")
	c := &Conn{iface: &net.Interface{Index: 2, Name: "eth0"}, source: self}
	header := func(src netip.Addr, total int) *ipv4.Header {
		return &ipv4.Header{Len: 20, TotalLen: total, TTL: 255,
			Src: net.IP(src.AsSlice()), Dst: net.IP(MulticastGroup.AsSlice())}
	}
	payload := append([]byte(nil), advert...)
	for _, tc := range []struct {
		name    string
		h       *ipv4.Header
		cm      *ipv4.ControlMessage
		ok      bool
		wantLen int
		stats   Stats
	}{
		{"peer", header(peer, 32), &ipv4.ControlMessage{IfIndex: 2}, true, 12, Stats{}},
		{"no control message", header(peer, 32), nil, true, 12, Stats{}},
		{"trailing bytes trimmed", header(peer, 28), &ipv4.ControlMessage{IfIndex: 2}, true, 8, Stats{}},
		{"own source", header(self, 32), &ipv4.ControlMessage{IfIndex: 2}, false, 0, Stats{Own: 1}},
		{"other interface", header(peer, 32), &ipv4.ControlMessage{IfIndex: 3}, false, 0, Stats{OtherInterface: 1}},
		{"total length beyond data", header(peer, 40), nil, false, 0, Stats{Malformed: 1}},
		{"total length below header", header(peer, 10), nil, false, 0, Stats{Malformed: 1}},
		{"IPv6 source", &ipv4.Header{Len: 20, TotalLen: 32, Src: net.ParseIP("2001:db8::1"), Dst: net.IP(MulticastGroup.AsSlice())}, nil, false, 0, Stats{Malformed: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.dropped = drops.Counter{}
			p, ok := c.accept(tc.h, payload, tc.cm)
			if ok != tc.ok || len(p.Payload) != tc.wantLen {
				t.Fatalf("accept = %+v, %v; want ok=%v with %d payload bytes", p, ok, tc.ok, tc.wantLen)
			}
			if ok && (p.Src != peer || p.Dst != MulticastGroup || p.TTL != 255 || p.IfIndex != 2) {
				t.Errorf("packet = %+v", p)
			}
			if got := c.Stats(); got != tc.stats {
				t.Errorf("stats = %+v, want %+v", got, tc.stats)
			}
		})
	}
}

// FuzzAccept feeds arbitrary datagrams through the header parsing and the
// receive filter: whatever arrives, nothing panics and a delivered payload
// lies within what was read.
func FuzzAccept(f *testing.F) {
	f.Add(append([]byte{0x45, 0xc0, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0xb0, 0x65,
		0xc6, 0x33, 0x64, 0x01, 0xe0, 0x00, 0x00, 0x12}, advert...), 2)
	f.Add([]byte{0x46, 0, 0, 0}, 0)
	f.Fuzz(func(t *testing.T, datagram []byte, ifIndex int) {
		c := &Conn{iface: &net.Interface{Index: 2, Name: "eth0"}, source: netip.MustParseAddr("198.51.100.1")}
		// What Receive does with a datagram: split it, then accept it.
		h, payload, _, err := parseDatagram(datagram, nil)
		if err != nil {
			return
		}
		p, ok := c.accept(h, payload, &ipv4.ControlMessage{IfIndex: ifIndex})
		if ok && len(p.Payload) > len(payload) {
			t.Fatalf("payload of %d bytes from a %d-byte datagram", len(p.Payload), len(datagram))
		}
	})
}

// TestReceivesKeepalived: the adverts of a real keepalived 2.2.x reach our
// socket with the header facts the VRRP checks need, in both modes.
func TestReceivesKeepalived(t *testing.T) {
	t.Parallel()
	netlab.RequireKeepalived(t)
	for _, tc := range []struct {
		name    string
		unicast bool
	}{
		{"multicast", false},
		{"unicast", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lab := netlab.New(t, 2)
			ka, we := lab.Nodes[0], lab.Nodes[1]
			cfg := netlab.KeepalivedConfig{
				State: "MASTER", VRID: 51, Priority: 150, Version: 3,
				VIPs: []netip.Prefix{netip.MustParsePrefix("198.51.100.100/24")},
			}
			want := MulticastGroup
			if tc.unicast {
				cfg.UnicastSource = ka.Addr
				cfg.UnicastPeers = []netip.Addr{we.Addr}
				want = we.Addr
			}
			c := open(t, we, Options{Interface: we.Iface, Multicast: !tc.unicast})
			ka.StartKeepalived(t, cfg)
			p := receiveWithin(t, c, 10*time.Second)
			if p.Src != ka.Addr || p.Dst != want || p.TTL != TTL {
				t.Errorf("got %+v; want from %s to %s with TTL 255", p, ka.Addr, want)
			}
			// VRRPv3 advertisement for VRID 51 with one IPv4 address.
			if len(p.Payload) != 12 || p.Payload[0] != 0x31 || p.Payload[1] != 51 {
				t.Errorf("payload = % x, want a 12-byte VRRPv3 advert for VRID 51", p.Payload)
			}
		})
	}
}

func TestParseDatagram(t *testing.T) {
	// A 20-byte header (TTL 255, protocol 112) and the lab advert.
	hdr := []byte{0x45, 0xc0, 0x00, 0x20, 0, 0, 0, 0, 0xff, 0x70, 0, 0, 198, 51, 100, 1, 224, 0, 0, 18}
	good := append(append([]byte(nil), hdr...), advert...)
	withOptions := append([]byte{0x46}, good[1:20]...)
	withOptions = append(append(withOptions, 1, 1, 1, 1), advert...)
	tests := []struct {
		name    string
		b       []byte
		payload int // length of the payload, or -1 for an error
	}{
		{"valid", good, len(advert)},
		{"with IP options", withOptions, len(advert)},
		{"empty", nil, -1},
		{"shorter than a header", good[:19], -1},
		{"header length below 20", append([]byte{0x44}, good[1:]...), -1},
		{"header length beyond the datagram", append([]byte{0x4f}, good[1:30]...), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, p, _, err := parseDatagram(tt.b, nil)
			if tt.payload < 0 {
				if err == nil {
					t.Fatalf("accepted: %+v", h)
				}
				return
			}
			if err != nil || len(p) != tt.payload || h.TTL != 255 || h.Protocol != Protocol {
				t.Fatalf("got %+v, %d-byte payload, %v", h, len(p), err)
			}
		})
	}
}
