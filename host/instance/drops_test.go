package instance

import (
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/drops"
	"github.com/hasidecar/hasidecar/host/vrrp/packet"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// countingConn is a socket stand-in that owns a drop counter, as a shared
// socket's endpoint does; it never delivers anything.
type countingConn struct {
	src     netip.Addr
	dropped drops.Counter
}

func (c *countingConn) Source() netip.Addr            { return c.src }
func (c *countingConn) Send([]byte, netip.Addr) error { return nil }
func (c *countingConn) Receive() (vrrpconn.Packet, error) {
	return vrrpconn.Packet{}, vrrpconn.ErrClosed
}
func (c *countingConn) Close() error          { return nil }
func (c *countingConn) Drops() *drops.Counter { return &c.dropped }

type noAddresses struct{}

func (noAddresses) Add(netip.Prefix) error         { return nil }
func (noAddresses) Remove(netip.Prefix) error      { return nil }
func (noAddresses) Has(netip.Prefix) (bool, error) { return false, nil }
func (noAddresses) Announce([]netip.Addr) error    { return nil }

// The instance counts what it drops in its socket's counter, where the
// socket's reader counts its full queue: status shows both, by reason.
func TestValidationDropsCountedWithTheSocket(t *testing.T) {
	self, peer := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	vip := netip.MustParsePrefix("198.51.100.100/24")
	conn := &countingConn{src: self}
	r, err := New(Spec{Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 100, Version: 3,
		AdvertInterval: time.Second, VirtualIPs: []netip.Prefix{vip}}, conn, noAddresses{}, noAddresses{}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	group := packet.MulticastGroup()
	advert := func(vrid uint8, addrs ...netip.Addr) []byte {
		b, err := (&packet.Advertisement{Version: 3, VRID: vrid, Priority: 200, Interval: time.Second, Addresses: addrs}).Marshal(peer, group)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := advert(51, vip.Addr())
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 1
	for _, pkt := range []vrrpconn.Packet{
		{Src: peer, Dst: group, TTL: 255, Payload: bad},                    // bad checksum
		{Src: peer, Dst: group, TTL: 255, Payload: good[:4]},               // too short
		{Src: peer, Dst: group, TTL: 64, Payload: good},                    // bad ttl
		{Src: peer, Dst: group, TTL: 255, Payload: advert(52, vip.Addr())}, // vrid mismatch
		{Src: self, Dst: group, TTL: 255, Payload: good},                   // own source
	} {
		if _, ok := r.validate(pkt); ok {
			t.Fatalf("accepted %+v", pkt)
		}
	}
	if _, ok := r.validate(vrrpconn.Packet{Src: peer, Dst: group, TTL: 255, Payload: good}); !ok {
		t.Fatal("dropped a good advert")
	}
	conn.dropped.Add(drops.QueueFull) // as the shared socket's reader does
	want := map[string]uint64{"bad checksum": 1, "too short": 1, "bad ttl": 1, "vrid mismatch": 1,
		"own source": 1, "receive queue full": 1}
	got := r.Status().Dropped
	if len(got) != len(want) {
		t.Errorf("dropped = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("dropped[%q] = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}
