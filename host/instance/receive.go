package instance

import (
	"errors"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/drops"
	"github.com/hasidecar/hasidecar/host/vrrp"
	"github.com/hasidecar/hasidecar/host/vrrp/packet"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// received is an advert the receiver checked, with the packet it came in
// and the deferred copy that arrived before it, which the loop takes in
// first.
type received struct {
	ad    vrrp.AdvertReceived
	pkt   vrrpconn.Packet
	prior *deferredAdvert
}

// receive reads the socket until it is closed, drops what the instance must
// not act on (counted by reason) and passes the rest to the event loop.
func (r *Runner) receive(out chan<- received, stop <-chan struct{}) error {
	for {
		pkt, err := r.conn.Receive()
		if err != nil {
			if errors.Is(err, vrrpconn.ErrClosed) {
				return nil
			}
			return err
		}
		ad, ok := r.validate(pkt)
		if !ok {
			continue
		}
		select {
		case out <- received{ad: ad, pkt: pkt}:
		case <-stop:
			return nil
		}
	}
}

// validate decodes and checks one packet; what the instance must not act on
// is counted by reason and dropped.
func (r *Runner) validate(pkt vrrpconn.Packet) (vrrp.AdvertReceived, bool) {
	if pkt.Src == r.conn.Source() {
		r.dropped.Add(drops.OwnSource) // our own, looped back
		return vrrp.AdvertReceived{}, false
	}
	ad, err := packet.Unmarshal(pkt.Payload, pkt.Src, pkt.Dst)
	if err != nil {
		r.drop(packet.ReasonOf(err), pkt, err)
		return vrrp.AdvertReceived{}, false
	}
	expect := r.expect.Load()
	reason := packet.CheckDestination(pkt.Dst, *expect)
	if reason == packet.ReasonNone {
		reason = packet.Check(ad, pkt.TTL, *expect)
	}
	if reason != packet.ReasonNone {
		if kind, msg, ok := describeConflict(reason, ad, pkt.Src, *expect); ok {
			now := r.clock.Now()
			r.noteConflict(kind, pkt.Src.String(), msg, now)
			r.dropped.Add(drops.Of(reason)) // logged as a conflict, at error level
			r.tellDropped(now, pkt.Src, refusedWhy(reason, ad, *expect))
			return vrrp.AdvertReceived{}, false
		}
		r.drop(reason, pkt, nil)
		return vrrp.AdvertReceived{}, false
	}
	r.recv.Add(1)
	return vrrp.AdvertReceived{From: pkt.Src, Priority: ad.Priority, Interval: ad.Interval}, true
}

// tellDropped lets the state machine know that a peer's advert was refused,
// so that a takeover it causes names the refusal rather than a silent
// master. At most once a second, and never waiting: a flood of refused
// adverts must not crowd out the valid ones.
func (r *Runner) tellDropped(now time.Time, from netip.Addr, why string) {
	last := r.droppedToldAt.Load()
	if last != nil && now.Sub(*last) < time.Second {
		return
	}
	if !r.droppedToldAt.CompareAndSwap(last, &now) {
		return
	}
	select {
	case r.events <- vrrp.AdvertDropped{From: from, Why: why}:
	default:
	}
}

func (r *Runner) drop(reason packet.Reason, pkt vrrpconn.Packet, err error) {
	n := r.dropped.Add(drops.Of(reason))
	if reason == packet.ReasonVRIDMismatch {
		return // another instance's packet on the same interface: not news
	}
	// Log the first drop of each reason and then every 1000th, so a flood
	// cannot fill the disk.
	if n != 1 && n%1000 != 0 {
		return
	}
	msg := "dropped advertisement"
	switch reason {
	case packet.ReasonAddressCount, packet.ReasonAddressList:
		// Same VRID, other addresses: most often two clusters that picked
		// the same virtual_router_id on one segment.
		msg = "VRID collision? another router advertises this virtual_router_id with other virtual addresses; its advertisements are ignored (give one of the clusters another virtual_router_id)"
	case packet.ReasonBadPassword, packet.ReasonAuthTypeMismatch:
		msg = "advertisement with another auth_pass or authentication type ignored (check auth_pass on every node)"
	case packet.ReasonIntervalMismatch:
		msg = "advertisement with another advert_interval ignored (VRRPv2 needs the same advert_interval on every node)"
	}
	fields := []zap.Field{zap.String("reason", string(reason)),
		zap.Stringer("from", pkt.Src), zap.Uint64("count", n), zap.Error(err)}
	if reason == packet.ReasonAddressCount || reason == packet.ReasonAddressList {
		// Decoded again only here, on the rare logging path.
		if ad, err := packet.Unmarshal(pkt.Payload, pkt.Src, pkt.Dst); err == nil {
			fields = append(fields, zap.Stringers("theirs", ad.Addresses), zap.Stringers("ours", r.expect.Load().Addresses))
		}
	}
	r.log.Warn(msg, fields...)
}
