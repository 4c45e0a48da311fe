package instance

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/hasidecar/hasidecar/host/timegrid"
	"github.com/hasidecar/hasidecar/host/vrrp"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// timetable keeps the runner's times: when its loop must wake next and
// what is due then. The state machine decides everything VRRP; the
// timetable remembers only what was moved out of it to save wake-ups: the
// gratuitous ARP bursts after the first (follow-up and second), and the
// copies of a master's advert that a
// backup leaves with the shared socket's reader, which then watches the
// master-down deadline instead of the loop.
//
// It reads no clock: the loop passes the time in, so a test drives it with
// any times it likes. The loop calls every method except takeDeferred and
// deferCopy, which the reader calls too.
type timetable struct {
	fsm  *vrrp.Instance
	w    watcher       // nil: no reader to hand the deadline to
	down chan struct{} // the reader says the master-down deadline passed

	garpAt   time.Time   // when the second gratuitous ARP burst is due
	followAt time.Time   // when the follow-up burst is due (healFollowUp)
	last     *repeatable // the last advert taken in, while it may repeat

	// repeat is the advert whose copies only restart the master-down
	// timer (see vrrp.Instance.OnlyRestartsTimer): the reader leaves such
	// a copy in deferred instead of waking the loop, which takes it in
	// before its next event or deadline. The loop alone sets repeat.
	repeat   atomic.Pointer[repeatable]
	deferred atomic.Pointer[deferredAdvert]
}

// A backup's master sends the same advert again and again: copies that
// change nothing but the master-down deadline are left with the shared
// socket's reader instead of waking the loop for each one. The state
// machine still decides; this only saves wake-ups.

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

// newTimetable returns the timetable of fsm; with a watcher, the reader's
// expiries arrive on expired.
func newTimetable(fsm *vrrp.Instance, w watcher) *timetable {
	t := &timetable{fsm: fsm, w: w, down: make(chan struct{}, 1)}
	if w != nil {
		w.OnExpiry(func() {
			select {
			case t.down <- struct{}{}:
			default:
			}
		})
	}
	return t
}

// expired is ready when the reader found the master-down deadline passed:
// the loop then takes in what it deferred and ticks.
func (t *timetable) expired() <-chan struct{} { return t.down }

// stop hands no more deadlines to the reader.
func (t *timetable) stop() {
	if t.w != nil {
		t.w.Unwatch()
	}
}

// announced notes a gratuitous ARP burst of kind sent at now. A follow-up
// is due healFollowUp later; after becoming master, the second burst
// garpSecondBurst later too. Either only while the instance is master.
func (t *timetable) announced(now time.Time, kind vrrp.AnnounceKind) {
	t.followAt = now.Add(healFollowUp)
	if kind == vrrp.BecameMaster {
		t.garpAt = now.Add(garpSecondBurst)
	}
}

// healFollowUp is when a master announces once more after its first burst
// (on becoming master, or again to heal a split brain). The master before
// it, until our first advert reached it, kept answering clients from its
// MAC, and what it sent after our burst points caches and switches back at
// it; when adverts do not leave from the MAC that carries the VIPs
// (use_vmac with vmac_xmit_base or unicast peers), nothing else of ours
// would correct a switch before the second burst. Our first advert leaves
// with the first burst and the old master steps down on hearing it, within
// milliseconds on a LAN: 300 ms is ample whatever the advert interval, so
// clients wait no longer at 1 s adverts than at 100 ms. Should that advert
// be lost, the second burst (5 s) still comes.
const healFollowUp = 300 * time.Millisecond

// burstDue says which noted burst ("follow-up burst", "second burst") is due
// at now while the instance is still master, or "" for none, and forgets
// those due.
func (t *timetable) burstDue(now time.Time) string {
	due := ""
	for _, b := range []struct {
		at   *time.Time
		name string
	}{{&t.garpAt, "second burst"}, {&t.followAt, "follow-up burst"}} {
		if !b.at.IsZero() && !now.Before(*b.at) {
			*b.at = time.Time{}
			if due == "" {
				due = b.name
			}
		}
	}
	if t.fsm.State() != vrrp.Master {
		return ""
	}
	return due
}

// next is when the loop must wake, or the zero time for never: the
// earliest of the state machine's deadline and the noted bursts, put off
// by the backstop while the reader watches a backup's deadline, and on the
// grid all instances share so that those due together wake the process
// once (see timegrid).
func (t *timetable) next() time.Time {
	next := t.fsm.NextDeadline()
	// A burst noted before the instance left master is never sent
	// (burstDue), so it wakes nobody; becoming master again notes a
	// new one.
	if t.fsm.State() == vrrp.Master {
		for _, at := range []time.Time{t.followAt, t.garpAt} {
			if !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
	}
	if next.IsZero() {
		return next
	}
	if p := t.repeat.Load(); p != nil && t.w != nil && t.fsm.State() == vrrp.Backup {
		next = next.Add(backstop * p.downAfter) // the reader keeps the real deadline
	}
	return timegrid.Align(next, timegrid.Step(t.fsm.AdvertInterval()))
}

// handled notes the advert the loop has just taken in, as it arrived: its
// copies may be deferred once offer finds that they would only restart the
// timer.
func (t *timetable) handled(pkt vrrpconn.Packet, ad vrrp.AdvertReceived) {
	t.last = &repeatable{src: pkt.Src, dst: pkt.Dst, ttl: pkt.TTL, payload: string(pkt.Payload), ad: ad}
}

// offer publishes the last advert as the one whose copies the reader may
// defer, while the state machine says a copy would only restart its timer,
// and otherwise withdraws it; it reports whether it withdrew a published
// advert, and the loop then takes in a copy deferred just before (later
// ones go the ordinary way). While the advert is published, the reader
// watches the master-down deadline.
func (t *timetable) offer() (withdrawn bool) {
	if t.last != nil && t.fsm.OnlyRestartsTimer(t.last.ad) {
		p := *t.last
		p.downAfter = t.fsm.MasterDownInterval()
		if cur := t.repeat.Load(); cur == nil || *cur != p {
			t.repeat.Store(&p)
		}
		if t.w != nil {
			t.w.WatchUntil(t.fsm.NextDeadline())
		}
		return false
	}
	t.last = nil
	if t.w != nil {
		t.w.Unwatch()
	}
	return t.repeat.Swap(nil) != nil
}

// withdraw stops deferring copies and forgets the last advert, for a
// reconfiguration that may change what a copy means; takeIn, called in
// between, takes in what arrived before it.
func (t *timetable) withdraw(takeIn func()) {
	t.repeat.Store(nil)
	takeIn()
	t.last = nil
}

// takeDeferred returns the deferred copy of the repeatable advert, if any,
// and forgets it: the loop hands it to the state machine at the time it
// arrived, before any other event.
func (t *timetable) takeDeferred() *deferredAdvert { return t.deferred.Swap(nil) }

// deferCopy leaves pkt for the loop to take in later if it is a copy of the
// repeatable advert, and reports whether it did. A copy is checked already:
// its bytes, source, destination and TTL are those of an advert the loop
// accepted. With a watcher, the copy moves the master-down deadline the
// reader keeps.
func (t *timetable) deferCopy(pkt vrrpconn.Packet) bool {
	p := t.repeat.Load()
	if p == nil || !p.matches(pkt) {
		return false
	}
	d := &deferredAdvert{ad: p.ad, at: pkt.Received}
	t.deferred.Store(d)
	if t.repeat.Load() != p && t.deferred.CompareAndSwap(d, nil) {
		// The loop withdrew the advert meanwhile, perhaps after looking
		// for deferred copies: this one goes the ordinary way.
		return false
	}
	if t.w != nil {
		t.w.WatchUntil(pkt.Received.Add(p.downAfter))
	}
	return true
}
