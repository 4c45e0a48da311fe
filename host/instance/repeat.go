package instance

import (
	"net/netip"
	"time"

	"github.com/hasidecar/hasidecar/host/vrrp"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// A backup's master sends the same advert again and again: copies that
// change nothing but the master-down deadline are left with the shared
// socket's reader (which watches that deadline) instead of waking the loop
// for each one. The state machine still decides; this only saves wake-ups.

// repeatable is an advert as it arrived, and what it means.
type repeatable struct {
	src, dst netip.Addr
	ttl      uint8
	payload  string
	ad       vrrp.AdvertReceived
	// downAfter is Master_Down_Interval when the advert was published:
	// a copy arriving at t moves the master-down deadline to t+downAfter.
	downAfter time.Duration
}

// watcher is a shared socket's reader keeping a deadline for the instance
// (vrrpconn.Endpoint): while copies of its master's advert arrive, a
// backup's master-down deadline is watched there, and the backup's loop
// sleeps.
type watcher interface {
	OnExpiry(func())
	WatchUntil(time.Time)
	Unwatch()
}

// pacer is a shared socket's reader that paces its reads by the advert
// intervals of its instances (vrrpconn.Endpoint).
type pacer interface{ Paced(interval time.Duration) }

// backstop is how long after the master-down deadline a backup whose
// deadline the reader watches wakes anyway, in case a bug kept the reader
// from calling it: late, but never stuck in BACKUP behind a dead master.
const backstop = 10

func (p *repeatable) matches(pkt vrrpconn.Packet) bool {
	return pkt.Src == p.src && pkt.Dst == p.dst && pkt.TTL == p.ttl && string(pkt.Payload) == p.payload
}

// deferredAdvert is a copy of the repeatable advert, and when it arrived.
type deferredAdvert struct {
	ad vrrp.AdvertReceived
	at time.Time
}

// offerRepeat publishes last as the advert whose copies the receiver may
// defer, while the state machine says a copy would only restart its timer,
// and otherwise withdraws it. It returns what stays a candidate, and
// whether it withdrew a published advert. With a watcher, the master-down
// deadline is handed to the reader while the advert is published.
func (r *Runner) offerRepeat(last *repeatable, w watcher) (*repeatable, bool) {
	if last != nil && r.fsm.OnlyRestartsTimer(last.ad) {
		p := *last
		p.downAfter = r.fsm.MasterDownInterval()
		if cur := r.repeat.Load(); cur == nil || *cur != p {
			r.repeat.Store(&p)
		}
		if w != nil {
			w.WatchUntil(r.fsm.NextDeadline())
		}
		return last, false
	}
	if w != nil {
		w.Unwatch()
	}
	return nil, r.repeat.Swap(nil) != nil
}

// takeDeferred hands the state machine the deferred copy of the repeatable
// advert, if any, at the time it arrived.
func (r *Runner) takeDeferred(stepAt func(time.Time, vrrp.Event)) {
	if d := r.deferred.Swap(nil); d != nil {
		stepAt(d.at, d.ad)
	}
}

// deferRepeat leaves pkt for the loop to take in later if it is a copy of
// the repeatable advert, and reports whether it did. A copy is checked
// already: its bytes, source, destination and TTL are those of an advert
// the loop accepted. With a watcher, the copy moves the master-down
// deadline the reader keeps.
func (r *Runner) deferRepeat(pkt vrrpconn.Packet, w watcher) bool {
	p := r.repeat.Load()
	if p == nil || !p.matches(pkt) {
		return false
	}
	d := &deferredAdvert{ad: p.ad, at: pkt.Received}
	r.deferred.Store(d)
	if r.repeat.Load() != p && r.deferred.CompareAndSwap(d, nil) {
		// The loop withdrew the advert meanwhile, perhaps after looking
		// for deferred copies: this one goes the ordinary way.
		return false
	}
	if w != nil {
		w.WatchUntil(pkt.Received.Add(p.downAfter))
	}
	r.recv.Add(1)
	return true
}
