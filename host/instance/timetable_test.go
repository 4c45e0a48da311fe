package instance

import (
	"net/netip"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/host/timegrid"
	"github.com/hasidecar/hasidecar/host/vrrp"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// t0 is on every grid timegrid uses.
var t0 = time.Unix(1_700_000_000, 0)

var (
	ourAddr  = netip.MustParseAddr("198.51.100.1")
	peerAddr = netip.MustParseAddr("198.51.100.2")
)

// fakeWatcher stands for the shared socket's reader (vrrpconn.Endpoint).
type fakeWatcher struct {
	expiry  func()
	until   time.Time // the deadline watched; zero: none
	unwatch int
}

func (w *fakeWatcher) OnExpiry(f func()) { w.expiry = f }
func (w *fakeWatcher) WatchUntil(at time.Time) {
	if w.until.IsZero() || at.After(w.until) {
		w.until = at // as the reader: only later
	}
}
func (w *fakeWatcher) Unwatch() { w.unwatch++; w.until = time.Time{} }

// machine is a state machine and its timetable, fed as the runner feeds
// them: every first gratuitous ARP burst is noted.
type machine struct {
	t   *testing.T
	fsm *vrrp.Instance
	tt  *timetable
}

func newMachine(t *testing.T, interval time.Duration, w watcher) *machine {
	t.Helper()
	fsm, err := vrrp.New(vrrp.Config{VRID: 7, Priority: 100, Version: 3, AdvertInterval: interval, Preempt: true, Address: ourAddr})
	if err != nil {
		t.Fatal(err)
	}
	return &machine{t, fsm, newTimetable(fsm, w)}
}

func (m *machine) step(now time.Time, ev vrrp.Event) {
	for _, a := range m.fsm.Handle(now, ev) {
		if an, ok := a.(vrrp.Announce); ok {
			m.tt.announced(now, an.Kind)
		}
	}
}

// master makes the instance master through its master-down timer, and
// returns when it became master.
func (m *machine) master() time.Time {
	m.step(t0, vrrp.Start{})
	at := m.fsm.NextDeadline()
	m.step(at, vrrp.Tick{})
	if m.fsm.State() != vrrp.Master {
		m.t.Fatalf("state %v after master-down, want MASTER", m.fsm.State())
	}
	return at
}

// masterAdvert is the peer's advert (priority 200, 1 s) as the reader
// hands it over, arriving at at.
func masterAdvert(at time.Time) (vrrpconn.Packet, vrrp.AdvertReceived) {
	pkt := vrrpconn.Packet{Src: peerAddr, Dst: netip.MustParseAddr("224.0.0.18"), TTL: 255,
		Payload: []byte("the same bytes each time"), Received: at}
	return pkt, vrrp.AdvertReceived{From: peerAddr, Priority: 200, Interval: time.Second}
}

// following makes the instance a backup that took in its master's advert
// at t0+1s and published it for deferral.
func (m *machine) following() (vrrpconn.Packet, vrrp.AdvertReceived) {
	m.step(t0, vrrp.Start{})
	pkt, ad := masterAdvert(t0.Add(time.Second))
	m.step(pkt.Received, ad)
	m.tt.handled(pkt, ad)
	if m.tt.offer() {
		m.t.Fatal("offer withdrew an advert on first publishing")
	}
	return pkt, ad
}

// TestTimetableBursts: after becoming master, a follow-up burst 300 ms
// later and the second burst at 5 s;
// announcing again to heal a split brain notes a new follow-up; leaving
// master cancels both.
func TestTimetableBursts(t *testing.T) {
	type want struct {
		at    time.Duration // after becoming master
		burst string
	}
	heal := func(m *machine, became time.Time) {
		m.step(became.Add(time.Second), vrrp.AdvertReceived{From: peerAddr, Priority: 50, Interval: time.Second})
	}
	for _, c := range []struct {
		name  string
		after func(m *machine, became time.Time) // events after becoming master
		wants []want                             // asked in order
	}{
		{"follow-up, then second", nil, []want{
			{healFollowUp - time.Nanosecond, ""}, {healFollowUp, "follow-up burst"},
			{garpSecondBurst - time.Nanosecond, ""}, {garpSecondBurst, "second burst"}, {garpSecondBurst, ""}}},
		{"a loop that wakes late sends one burst for both", nil, []want{
			{garpSecondBurst + time.Second, "second burst"}, {garpSecondBurst + time.Second, ""}}},
		{"cancelled by a higher-priority master", func(m *machine, became time.Time) {
			_, ad := masterAdvert(became)
			m.step(became.Add(time.Second), ad)
		}, []want{{healFollowUp, ""}, {garpSecondBurst, ""}}},
		{"cancelled by a fault", func(m *machine, became time.Time) {
			m.step(became.Add(time.Second), vrrp.FaultChanged{Reason: "link down", Active: true})
		}, []want{{healFollowUp, ""}, {garpSecondBurst, ""}}},
		{"announcing again to heal a split brain: a new follow-up", heal, []want{
			{healFollowUp, ""}, {time.Second + healFollowUp - time.Nanosecond, ""},
			{time.Second + healFollowUp, "follow-up burst"}, {garpSecondBurst, "second burst"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newMachine(t, time.Second, nil)
			became := m.master()
			if c.after != nil {
				c.after(m, became)
			}
			for _, w := range c.wants {
				m.tt.next() // as the loop does before sleeping
				if got := m.tt.burstDue(became.Add(w.at)); got != w.burst {
					t.Fatalf("burstDue(became+%v) = %q, want %q", w.at, got, w.burst)
				}
			}
		})
	}
}

func TestTimetableNext(t *testing.T) {
	align := func(at time.Time, interval time.Duration) time.Time {
		return timegrid.Align(at, timegrid.Step(interval))
	}
	for _, c := range []struct {
		name     string
		interval time.Duration // the advert interval; 1 s if zero
		watched  bool          // a reader may watch the deadline
		setup    func(m *machine) (want time.Time)
	}{
		{"nothing due in INIT", 0, false, func(m *machine) time.Time { return time.Time{} }},
		{"nothing due in FAULT", 0, false, func(m *machine) time.Time {
			m.step(t0, vrrp.FaultChanged{Reason: "link down", Active: true})
			m.step(t0, vrrp.Start{})
			return time.Time{}
		}},
		{"a backup's master-down deadline, on the grid", 0, false, func(m *machine) time.Time {
			m.step(t0, vrrp.Start{})
			// 3 s + Skew_Time (156/256 s) is off the 2 ms grid.
			if d := m.fsm.NextDeadline(); d.Equal(align(d, time.Second)) {
				t.Fatalf("the deadline %v is on the grid already: the case tests nothing", d)
			}
			return align(m.fsm.NextDeadline(), time.Second)
		}},
		{"a master's follow-up burst before its next advert", 0, false, func(m *machine) time.Time {
			return align(m.master().Add(healFollowUp), time.Second)
		}},
		{"a master's next advert before its second burst", 0, false, func(m *machine) time.Time {
			became := m.master()
			m.tt.burstDue(became.Add(healFollowUp))
			return align(became.Add(time.Second), time.Second)
		}},
		{"a second burst before a master's next advert", 10 * time.Second, false, func(m *machine) time.Time {
			became := m.master()
			m.tt.burstDue(became.Add(healFollowUp))
			return align(became.Add(garpSecondBurst), 10*time.Second)
		}},
		{"a master's next advert once its second burst is sent", 10 * time.Second, false, func(m *machine) time.Time {
			became := m.master()
			m.tt.burstDue(became.Add(garpSecondBurst))
			return align(became.Add(10*time.Second), 10*time.Second)
		}},
		{"a backup that left master: no second burst", 10 * time.Second, false, func(m *machine) time.Time {
			became := m.master()
			_, ad := masterAdvert(became)
			m.step(became.Add(time.Second), ad) // the master-down deadline is 3 s and more later
			return align(m.fsm.NextDeadline(), time.Second)
		}},
		{"a deadline the reader watches: the backstop", 0, true, func(m *machine) time.Time {
			m.following()
			return align(m.fsm.NextDeadline().Add(backstop*m.fsm.MasterDownInterval()), time.Second)
		}},
		{"no reader: the deadline itself", 0, false, func(m *machine) time.Time {
			m.following()
			return align(m.fsm.NextDeadline(), time.Second)
		}},
		{"withdrawn: the deadline itself", 0, true, func(m *machine) time.Time {
			m.following()
			m.step(t0.Add(2*time.Second), vrrp.PriorityChanged{Priority: 250})
			m.tt.offer()
			return align(m.fsm.NextDeadline(), time.Second)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			interval := c.interval
			if interval == 0 {
				interval = time.Second
			}
			var w watcher
			if c.watched {
				w = &fakeWatcher{}
			}
			m := newMachine(t, interval, w)
			want := c.setup(m)
			if got := m.tt.next(); !got.Equal(want) {
				t.Fatalf("next() = %v, want %v", got, want)
			}
		})
	}
}

func TestTimetableDefersCopies(t *testing.T) {
	w := &fakeWatcher{}
	m := newMachine(t, time.Second, w)
	pkt, ad := m.following()
	if want := m.fsm.NextDeadline(); !w.until.Equal(want) {
		t.Fatalf("the reader watches until %v, want the master-down deadline %v", w.until, want)
	}

	for _, c := range []struct {
		name   string
		change func(p *vrrpconn.Packet)
	}{
		{"other bytes", func(p *vrrpconn.Packet) { p.Payload = []byte("the same bytes each time, or not") }},
		{"another source", func(p *vrrpconn.Packet) { p.Src = netip.MustParseAddr("198.51.100.3") }},
		{"another destination", func(p *vrrpconn.Packet) { p.Dst = ourAddr }},
		{"another TTL", func(p *vrrpconn.Packet) { p.TTL = 254 }},
	} {
		other := pkt
		c.change(&other)
		if m.tt.deferCopy(other) {
			t.Errorf("a packet with %s was deferred as a copy", c.name)
		}
	}
	if m.tt.takeDeferred() != nil {
		t.Fatal("something was deferred before any copy arrived")
	}

	// Two copies arrive while the loop sleeps: the later one stands for
	// both, since each only restarts the timer.
	for _, at := range []time.Duration{2 * time.Second, 3 * time.Second} {
		cp := pkt
		cp.Received = t0.Add(at)
		if !m.tt.deferCopy(cp) {
			t.Fatalf("the copy arriving at t0+%v was not deferred", at)
		}
	}
	arrived := t0.Add(3 * time.Second)
	if want := arrived.Add(m.fsm.MasterDownInterval()); !w.until.Equal(want) {
		t.Fatalf("the reader watches until %v, want the last copy's arrival + Master_Down_Interval %v", w.until, want)
	}

	// The loop wakes for another event: the copy first, at its arrival.
	d := m.tt.takeDeferred()
	if d == nil || !d.at.Equal(arrived) || d.ad != ad {
		t.Fatalf("takeDeferred() = %+v, want the advert at %v", d, arrived)
	}
	if m.tt.takeDeferred() != nil {
		t.Fatal("the deferred copy was taken twice")
	}
	m.step(d.at, d.ad)
	if want := arrived.Add(m.fsm.MasterDownInterval()); !m.fsm.NextDeadline().Equal(want) {
		t.Fatalf("master-down deadline %v after the copy, want %v", m.fsm.NextDeadline(), want)
	}
	if m.tt.offer() {
		t.Fatal("the advert was withdrawn though its copies still only restart the timer")
	}
}

func TestTimetableWithdraws(t *testing.T) {
	t.Run("the state machine would act on a copy", func(t *testing.T) {
		w := &fakeWatcher{}
		m := newMachine(t, time.Second, w)
		pkt, _ := m.following()
		cp := pkt
		cp.Received = t0.Add(2 * time.Second)
		if !m.tt.deferCopy(cp) {
			t.Fatal("the copy was not deferred")
		}
		// Our priority rises above the master's: its next advert would
		// start a preemption, so it must reach the state machine.
		m.step(t0.Add(2500*time.Millisecond), vrrp.PriorityChanged{Priority: 250})
		if !m.tt.offer() {
			t.Fatal("offer did not report the withdrawal")
		}
		if !w.until.IsZero() || w.unwatch == 0 {
			t.Fatal("the reader still watches the deadline")
		}
		if m.tt.takeDeferred() == nil {
			t.Fatal("the copy deferred before the withdrawal was lost")
		}
		cp.Received = t0.Add(3 * time.Second)
		if m.tt.deferCopy(cp) {
			t.Fatal("a copy after the withdrawal was deferred instead of going the ordinary way")
		}
		if m.tt.offer() {
			t.Fatal("offer reported a withdrawal twice")
		}
	})
	t.Run("a reconfiguration", func(t *testing.T) {
		m := newMachine(t, time.Second, &fakeWatcher{})
		pkt, _ := m.following()
		took := false
		m.tt.withdraw(func() {
			took = true
			if m.tt.deferCopy(pkt) {
				t.Error("a copy was deferred while the loop took in what came before the reconfiguration")
			}
		})
		if !took {
			t.Fatal("withdraw did not take in what came before")
		}
		if m.tt.offer() || m.tt.repeat.Load() != nil {
			t.Fatal("the advert from before the reconfiguration was published again")
		}
	})
}

func TestTimetableExpiry(t *testing.T) {
	w := &fakeWatcher{}
	m := newMachine(t, time.Second, w)
	select {
	case <-m.tt.expired():
		t.Fatal("expired before the reader said so")
	default:
	}
	w.expiry()
	w.expiry() // the reader never blocks, even when the loop is behind
	select {
	case <-m.tt.expired():
	default:
		t.Fatal("the reader's expiry did not reach the loop")
	}
	m.tt.stop()
	if w.unwatch == 0 {
		t.Fatal("stop left the deadline with the reader")
	}
	if newMachine(t, time.Second, nil).tt.expired() == nil {
		t.Fatal("without a reader, expired must still be a channel the loop can select on")
	}
}
