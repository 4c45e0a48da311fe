package vrrpconn

import (
	"errors"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/host/drops"
	"github.com/hasidecar/hasidecar/host/vrrp/packet"
	"github.com/hasidecar/hasidecar/internal/netlab"
)

// withVRID is the lab advert with another VRID in its second byte (the
// socket and the demux look no further).
func withVRID(vrid byte) []byte {
	b := append([]byte(nil), advert...)
	b[1] = vrid
	return b
}

// collect reads e until it is closed and passes on what it read.
func collect(e *Endpoint) <-chan Packet {
	ch := make(chan Packet, 16)
	go func() {
		for {
			p, err := e.Receive()
			if err != nil {
				return
			}
			ch <- p
		}
	}()
	return ch
}

func next(ch <-chan Packet, d time.Duration) (Packet, bool) {
	select {
	case p := <-ch:
		return p, true
	case <-time.After(d):
		return Packet{}, false
	}
}

// senderAndDemux builds a two-node lab: a socket on node 1 to send with,
// and a demux over node 2's socket.
func senderAndDemux(t *testing.T) (*Conn, *Demux) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	sender := open(t, lab.Nodes[0], Options{Interface: "eth0", Multicast: true})
	return sender, NewDemux(open(t, lab.Nodes[1], Options{Interface: "eth0", Multicast: true}))
}

func TestDemuxRoutesByVRID(t *testing.T) {
	sender, dm := senderAndDemux(t)
	e51, err := dm.Join(51)
	if err != nil {
		t.Fatal(err)
	}
	e52, _ := dm.Join(52)
	defer e51.Close()
	defer e52.Close()
	got := map[*Endpoint]<-chan Packet{e51: collect(e51), e52: collect(e52)}

	send := func(b []byte) {
		t.Helper()
		if err := sender.Send(b, MulticastGroup); err != nil {
			t.Fatal(err)
		}
	}
	send(withVRID(52))
	if p, ok := next(got[e52], 2*time.Second); !ok || p.Payload[1] != 52 {
		t.Fatalf("VRID 52's endpoint got %v, %v", p.Payload, ok)
	}
	if p, ok := next(got[e51], 200*time.Millisecond); ok {
		t.Fatalf("VRID 51's endpoint got VRID 52's packet %v", p.Payload)
	}

	// No instance has VRID 99 and a 1-byte packet has none: no endpoint
	// sees them, and the socket counts each once.
	send(withVRID(99))
	send([]byte{0x31})
	for _, e := range []*Endpoint{e51, e52} {
		if p, ok := next(got[e], 300*time.Millisecond); ok {
			t.Fatalf("endpoint %d got the unclaimed packet %v", e.vrid, p.Payload)
		}
	}
	c := dm.Conn().Drops()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var n uint64
		for _, r := range drops.SocketReasons() {
			if r != drops.OwnSource && r != drops.OtherInterface && r != drops.BadIPHeader {
				n += c.Count(r)
			}
		}
		if n == 2 && c.Count(drops.Of(packet.ReasonTooShort)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("socket counted %v, want the two unclaimed packets once each (one too short)", c.NonZero())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := e51.Drops().NonZero(); n != nil {
		t.Errorf("endpoint 51 counted %v for packets that were not its own", n)
	}
}

func TestDemuxClosesWithTheLastEndpoint(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 1)
	dm := NewDemux(open(t, lab.Nodes[0], Options{Interface: "eth0", Multicast: true}))
	a, _ := dm.Join(1)
	b, _ := dm.Join(1) // a reload replacing the instance: both for a moment

	errc := make(chan error, 1)
	go func() {
		_, err := a.Receive()
		errc <- err
	}()
	a.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Receive after Close: %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
	if err := a.Send(advert, MulticastGroup); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
	if err := b.Send(advert, MulticastGroup); err != nil {
		t.Fatalf("the other endpoint cannot send any more: %v", err)
	}
	b.Close()
	b.Close() // twice is harmless
	if _, err := dm.Join(2); !errors.Is(err, ErrDemuxClosed) {
		t.Fatalf("Join after the last endpoint left: %v, want ErrDemuxClosed", err)
	}
	if err := dm.Conn().Send(advert, MulticastGroup); !errors.Is(err, ErrClosed) {
		t.Fatalf("the socket is still open after the last endpoint left: %v", err)
	}
}

func TestDemuxWatchedDeadline(t *testing.T) {
	sender, dm := senderAndDemux(t)
	e, err := dm.Join(51)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	fired := make(chan time.Time, 4)
	e.OnExpiry(func() { fired <- time.Now() })
	// Each packet moves the deadline 300 ms past its arrival, as a backup's
	// adverts move its master-down deadline.
	e.Handle(func(p Packet) { e.WatchUntil(p.Received.Add(300 * time.Millisecond)) })

	start := time.Now()
	e.WatchUntil(start.Add(300 * time.Millisecond))
	e.WatchUntil(start.Add(100 * time.Millisecond)) // earlier: ignored
	var lastSent time.Time
	for i := 0; i < 10; i++ { // 1 s of packets every 100 ms
		lastSent = time.Now()
		if err := sender.Send(withVRID(51), MulticastGroup); err != nil {
			t.Fatal(err)
		}
		select {
		case at := <-fired:
			// Judged against the packet sent before this one: on a loaded
			// machine a sleep can overshoot, and the deadline then passes
			// rightly.
			t.Fatalf("fired %v after a packet, while packets kept coming every 100 ms", at.Sub(lastSent))
		case <-time.After(100 * time.Millisecond):
		}
	}
	select {
	case at := <-fired:
		if d := at.Sub(lastSent); d < 250*time.Millisecond || d > 2*time.Second {
			t.Errorf("fired %v after the last packet, want about 300 ms", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the deadline passed without the expiry function being called")
	}
	select {
	case <-fired:
		t.Fatal("fired twice for one deadline")
	case <-time.After(500 * time.Millisecond):
	}

	// Cleared, a deadline never fires.
	e.WatchUntil(time.Now().Add(100 * time.Millisecond))
	e.Unwatch()
	select {
	case <-fired:
		t.Fatal("fired after Unwatch")
	case <-time.After(500 * time.Millisecond):
	}
}
