package instance

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/hasidecar/hasidecar/host/vrrp"
	"github.com/hasidecar/hasidecar/host/vrrp/packet"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

var testVIP = netip.MustParsePrefix("198.51.100.100/24")

// Timings of testSpec: Master_Down_Interval is 3 s + Skew_Time (156/256 s),
// on the 2 ms grid at 3.610 s.
const (
	testInterval = time.Second
	testDown     = 3*time.Second + 156*time.Second/256
)

func testSpec() Spec {
	return Spec{Name: "web", Interface: "eth0", VRID: 7, Priority: 100, Version: 3,
		AdvertInterval: testInterval, Preempt: true, VirtualIPs: []netip.Prefix{testVIP}}
}

// waitLimit bounds how long a test waits for the runner's goroutines: real
// time only for scheduling, never for the election's timing, which the
// fake clock keeps.
const waitLimit = 20 * time.Second

// harness is a runner on fakes, running until the test ends.
type harness struct {
	t     *testing.T
	clk   *fakeClock
	conn  *fakeConn
	addrs *fakeAddresses
	garp  *fakeAnnouncer
	r     *Runner
	stop  context.CancelFunc
	done  chan error
}

// start runs a runner of spec on conn (a *fakeConn or *fakeShared made by
// the test; nil: a new fakeConn), and returns once its loop sleeps.
func start(t *testing.T, spec Spec, clk *fakeClock, conn Conn, stale ...netip.Prefix) *harness {
	t.Helper()
	if clk == nil {
		clk = &fakeClock{now: t0}
	}
	if conn == nil {
		conn = newFakeConn(t, clk)
	}
	h := &harness{t: t, clk: clk, addrs: &fakeAddresses{has: map[netip.Prefix]bool{}},
		garp: &fakeAnnouncer{clk: clk}, done: make(chan error, 1)}
	switch c := conn.(type) {
	case *fakeConn:
		h.conn = c
	case *fakeShared:
		h.conn = c.fakeConn
	}
	for _, p := range stale {
		h.addrs.has[p] = true
	}
	r, err := newRunner(spec, conn, h.addrs, h.garp, zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)), clk)
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(waitLimit):
			t.Error("Run did not return after its context ended")
		}
	})
	h.settle(0)
	return h
}

// waitFor polls cond until it holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	for end := time.Now().Add(waitLimit); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			h.t.Fatalf("waited %v for %s", waitLimit, what)
		}
	}
}

// settle waits until the loop has taken a turn after its turn number
// after, and sleeps again until a deadline to come.
func (h *harness) settle(after int) {
	h.t.Helper()
	h.waitFor("the runner's loop to go back to sleep", func() bool {
		idle, n := h.clk.idle()
		return idle && n > after
	})
}

func (h *harness) turns() int {
	_, n := h.clk.idle()
	return n
}

// advanceTo moves the clock to at, stopping at each of the loop's
// deadlines on the way to let it do what is due then.
func (h *harness) advanceTo(at time.Time) {
	h.t.Helper()
	for {
		h.settle(-1)
		c := h.clk
		c.mu.Lock()
		if c.timer.at.After(at) {
			c.now = at
			c.mu.Unlock()
			return
		}
		c.now = c.timer.at
		c.timer.fire()
		n := c.resets
		c.mu.Unlock()
		h.settle(n)
	}
}

func (h *harness) advance(d time.Duration) { h.advanceTo(h.clk.Now().Add(d)) }

func (h *harness) state() string { return h.r.Status().State }

func (h *harness) wantState(want string) {
	h.t.Helper()
	if got := h.state(); got != want {
		h.t.Fatalf("state %s at t0+%v, want %s", got, h.clk.Now().Sub(t0), want)
	}
}

// receive hands the runner a peer's advert through the socket and waits
// until the loop has taken it in.
func (h *harness) receive(priority uint8) {
	h.t.Helper()
	n := h.turns()
	h.conn.in <- peerAdvert(h.t, priority, h.clk.Now())
	h.settle(n)
}

// deliver hands the runner an outside event and waits until the loop has
// taken it in.
func (h *harness) deliver(ev vrrp.Event) {
	h.t.Helper()
	n := h.turns()
	h.r.Deliver(context.Background(), ev)
	h.settle(n)
}

// peerAdvert is the peer's advert for testSpec, as the socket returns it.
func peerAdvert(t *testing.T, priority uint8, at time.Time) vrrpconn.Packet {
	t.Helper()
	return peerAdvertFor(t, priority, []netip.Addr{testVIP.Addr()}, at)
}

// peerAdvertFor is the peer's advert for testSpec's VRID with addrs.
func peerAdvertFor(t *testing.T, priority uint8, addrs []netip.Addr, at time.Time) vrrpconn.Packet {
	t.Helper()
	dst := packet.MulticastGroup()
	ad := packet.Advertisement{Version: 3, VRID: 7, Priority: priority, Interval: testInterval,
		Addresses: addrs}
	b, err := ad.Marshal(peerAddr, dst)
	if err != nil {
		t.Fatal(err)
	}
	return vrrpconn.Packet{Src: peerAddr, Dst: dst, TTL: packet.TTL, Payload: b, Received: at}
}

// becomeMaster runs a lone runner through its master-down timer and returns
// when it became master.
func (h *harness) becomeMaster() time.Time {
	h.t.Helper()
	h.advanceTo(t0.Add(testDown + 10*time.Millisecond))
	h.wantState("MASTER")
	sent := h.conn.adverts()
	became := sent[len(sent)-1].at
	if d := became.Sub(t0); d < testDown || d > testDown+2*time.Millisecond {
		h.t.Fatalf("became master %v after starting, want Master_Down_Interval %v (on the 2 ms grid)", d, testDown)
	}
	return became
}

func TestRunnerAloneBecomesMaster(t *testing.T) {
	h := start(t, testSpec(), nil, nil)
	h.wantState("BACKUP")

	h.advanceTo(t0.Add(testDown - time.Millisecond))
	h.wantState("BACKUP")
	if got := h.addrs.held(); len(got) != 0 || len(h.conn.adverts()) != 0 || h.garp.count() != 0 {
		t.Fatalf("before Master_Down_Interval: addresses %v, %d adverts, %d gratuitous ARP; want none",
			got, len(h.conn.adverts()), h.garp.count())
	}

	became := h.becomeMaster()
	if got := h.addrs.held(); !slices.Equal(got, []netip.Prefix{testVIP}) {
		t.Fatalf("master holds %v, want %v", got, testVIP)
	}
	if n := h.garp.count(); n != garpBurst {
		t.Fatalf("%d gratuitous ARP on becoming master, want a burst of %d", n, garpBurst)
	}
	if _, got := h.garp.packet(0); !slices.Equal(got, []netip.Addr{testVIP.Addr()}) {
		t.Fatalf("announced %v, want %v", got, testVIP.Addr())
	}

	// Adverts every interval; a follow-up burst of gratuitous ARP 300 ms
	// after the first, the second burst 5 s after it, and no more.
	for i, b := range []struct {
		name string
		at   time.Duration
	}{{"follow-up", healFollowUp}, {"second", garpSecondBurst}} {
		h.advanceTo(became.Add(b.at - 10*time.Millisecond))
		if n := h.garp.count(); n != (i+1)*garpBurst {
			t.Fatalf("%d gratuitous ARP before the %s burst is due, want %d", n, b.name, (i+1)*garpBurst)
		}
		h.advanceTo(became.Add(b.at + 10*time.Millisecond))
		if n := h.garp.count(); n != (i+2)*garpBurst {
			t.Fatalf("%d gratuitous ARP %v after becoming master, want %d", n, b.at, (i+2)*garpBurst)
		}
		if at, _ := h.garp.packet((i + 1) * garpBurst); at.Sub(became) < b.at || at.Sub(became) > b.at+2*time.Millisecond {
			t.Fatalf("%s burst %v after becoming master, want %v (on the 2 ms grid)", b.name, at.Sub(became), b.at)
		}
	}
	h.advance(time.Minute)
	if n := h.garp.count(); n != 3*garpBurst {
		t.Fatalf("%d gratuitous ARP a minute later, want still %d", n, 3*garpBurst)
	}

	sent := h.conn.adverts()
	if want := 1 + int((time.Minute+garpSecondBurst)/testInterval); len(sent) != want {
		t.Fatalf("%d adverts in %v as master, want %d", len(sent), h.clk.Now().Sub(became), want)
	}
	for i, s := range sent {
		if s.ad.Priority != 100 || s.ad.Interval != testInterval || s.dst != packet.MulticastGroup() ||
			!slices.Equal(s.ad.Addresses, []netip.Addr{testVIP.Addr()}) {
			t.Fatalf("advert %d: %+v to %v, want priority 100, 1 s, %v to 224.0.0.18", i, s.ad, s.dst, testVIP.Addr())
		}
		if i > 0 {
			if gap := s.at.Sub(sent[i-1].at); gap < testInterval || gap > testInterval+2*time.Millisecond {
				t.Fatalf("advert %d came %v after the previous one, want %v", i, gap, testInterval)
			}
		}
	}
}

func TestRunnerRemovesAStaleVIPBeforeTheElection(t *testing.T) {
	h := start(t, testSpec(), nil, nil, testVIP)
	h.wantState("BACKUP")
	if got := h.addrs.log(); !slices.Equal(got, []string{"remove " + testVIP.String()}) {
		t.Fatalf("address changes %q, want the stale VIP removed", got)
	}
}

func TestRunnerStepsDownForAHigherPriority(t *testing.T) {
	h := start(t, testSpec(), nil, nil)
	became := h.becomeMaster()
	before := len(h.conn.adverts())

	h.advanceTo(became.Add(2 * time.Second))
	h.receive(200)
	h.wantState("BACKUP")
	if got := h.addrs.held(); len(got) != 0 {
		t.Fatalf("a backup holds %v", got)
	}
	sent := h.conn.adverts()
	// One last advert with our priority, so that the winner announces
	// the addresses again (see vrrp's masterReceived).
	if last := sent[len(sent)-1]; last.ad.Priority != 100 {
		t.Fatalf("last advert has priority %d, want our 100", last.ad.Priority)
	}
	stepped := len(sent)

	// No second burst of gratuitous ARP as backup, and no adverts while
	// the master keeps advertising.
	for i := 0; i < 10; i++ {
		h.advance(testInterval)
		h.receive(200)
	}
	h.wantState("BACKUP")
	if n := h.garp.count(); n != 2*garpBurst {
		t.Fatalf("%d gratuitous ARP, want only the first burst and its follow-up (%d): the second is cancelled by stepping down", n, 2*garpBurst)
	}
	if n := len(h.conn.adverts()); n != stepped || stepped < before+1 {
		t.Fatalf("%d adverts sent as backup", n-stepped)
	}

	// The master falls silent: take over after Master_Down_Interval.
	h.advance(testDown - 10*time.Millisecond)
	h.wantState("BACKUP")
	h.advance(20 * time.Millisecond)
	h.wantState("MASTER")
}

func TestRunnerStopResigns(t *testing.T) {
	h := start(t, testSpec(), nil, nil)
	h.becomeMaster()
	h.stop()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		h.done <- nil // for the cleanup
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after its context ended")
	}
	sent := h.conn.adverts()
	if last := sent[len(sent)-1]; last.ad.Priority != 0 {
		t.Fatalf("last advert has priority %d, want 0 (resigning)", last.ad.Priority)
	}
	if got := h.addrs.held(); len(got) != 0 {
		t.Fatalf("stopped runner left %v on the interface", got)
	}
	if !h.conn.isClosed() {
		t.Fatal("the socket is still open")
	}
	h.wantState("INIT")
}

func TestRunnerFaultRemovesTheVIPs(t *testing.T) {
	h := start(t, testSpec(), nil, nil)
	became := h.becomeMaster()
	h.advanceTo(became.Add(1500 * time.Millisecond))
	h.deliver(vrrp.FaultChanged{Reason: "link eth0 down", Active: true})
	h.wantState("FAULT")
	if got := h.addrs.held(); len(got) != 0 {
		t.Fatalf("an instance in FAULT holds %v", got)
	}
	sent := h.conn.adverts()
	if last := sent[len(sent)-1]; last.ad.Priority != 0 {
		t.Fatalf("last advert has priority %d, want 0 (a master entering FAULT resigns)", last.ad.Priority)
	}
	// In FAULT nothing is due: the loop sleeps and sends nothing.
	n, turns := len(sent), h.turns()
	h.advance(time.Minute)
	if len(h.conn.adverts()) != n || h.turns() != turns {
		t.Fatalf("in FAULT for a minute: %d adverts and %d wake-ups, want none", len(h.conn.adverts())-n, h.turns()-turns)
	}
	if n := h.garp.count(); n != 2*garpBurst {
		t.Fatalf("%d gratuitous ARP, want the first burst and its follow-up (%d): no second burst in FAULT", n, 2*garpBurst)
	}

	h.deliver(vrrp.FaultChanged{Reason: "link eth0 down", Active: false})
	h.wantState("BACKUP")
}

// On a shared socket, a backup's master's unchanged adverts are left with
// the reader, which watches the master-down deadline: the backup's loop
// does not wake for them, and still takes over when they stop.
func TestRunnerBackupSleepsThroughRepeatedAdverts(t *testing.T) {
	clk := &fakeClock{now: t0}
	shared := &fakeShared{fakeConn: newFakeConn(t, clk)}
	h := start(t, testSpec(), clk, shared)
	// handle does what the reader does with a packet arriving at at.
	handle := func(at time.Time) {
		h.advanceTo(at)
		(*shared.handler.Load())(peerAdvert(t, 200, at))
	}

	// The first advert reaches the loop, which then leaves the copies to
	// the reader.
	n := h.turns()
	handle(t0.Add(time.Second))
	h.settle(n)
	h.wantState("BACKUP")
	if want := t0.Add(time.Second + testDown); !shared.watched().Equal(want) {
		t.Fatalf("the reader watches until %v, want the master-down deadline %v", shared.watched(), want)
	}

	const copies = 60
	n = h.turns()
	var last time.Time
	for i := 2; i <= copies+1; i++ {
		last = t0.Add(time.Duration(i) * testInterval)
		handle(last)
	}
	// The loop wakes only at the backstop, 10 Master_Down_Intervals
	// after the deadline it knows, and stays backup.
	if got, most := h.turns()-n, copies/(backstop*int(testDown/testInterval)); got > most {
		t.Fatalf("the loop woke %d times for %d copies of its master's advert, want at most %d", got, copies, most)
	}
	h.wantState("BACKUP")
	if want := last.Add(testDown); !shared.watched().Equal(want) {
		t.Fatalf("the reader watches until %v, want the last copy's arrival + Master_Down_Interval %v", shared.watched(), want)
	}
	if got := h.r.Status().AdvertsRecv; got != copies+1 {
		t.Fatalf("%d adverts counted as received, want %d", got, copies+1)
	}

	// Another event wakes the loop 2 s later: it takes in the copy first,
	// at its arrival, and stays backup (without the copy, the deadline it
	// knows passed long ago).
	h.advanceTo(last.Add(2 * time.Second))
	h.deliver(vrrp.PriorityChanged{Priority: 90})
	h.wantState("BACKUP")

	// The master falls silent; the reader finds the deadline passed, which
	// the copy set from its arrival, not from when the loop took it in.
	h.clk.set(last.Add(testDown + time.Millisecond))
	n = h.turns()
	shared.expire()
	h.settle(n)
	h.wantState("MASTER")
	if got := h.addrs.held(); !slices.Equal(got, []netip.Prefix{testVIP}) {
		t.Fatalf("master holds %v, want %v", got, testVIP)
	}
	if !shared.watched().IsZero() {
		t.Fatal("a master left a master-down deadline with the reader")
	}
}

// Should the reader never say that the deadline passed, the backup still
// takes over, late, at the backstop.
func TestRunnerBackstop(t *testing.T) {
	clk := &fakeClock{now: t0}
	shared := &fakeShared{fakeConn: newFakeConn(t, clk)}
	h := start(t, testSpec(), clk, shared)
	n := h.turns()
	h.clk.set(t0.Add(time.Second))
	(*shared.handler.Load())(peerAdvert(t, 200, t0.Add(time.Second)))
	h.settle(n)

	deadline := t0.Add(time.Second + testDown)
	h.advanceTo(deadline.Add(backstop*testDown - 10*time.Millisecond))
	h.wantState("BACKUP")
	h.advanceTo(deadline.Add(backstop*testDown + 10*time.Millisecond))
	h.wantState("MASTER")
}

// A reconfiguration may change what a copy means: copies of an advert
// taken in before it are checked again, not deferred.
func TestRunnerReconfigureStopsDeferringOlderCopies(t *testing.T) {
	clk := &fakeClock{now: t0}
	shared := &fakeShared{fakeConn: newFakeConn(t, clk)}
	h := start(t, testSpec(), clk, shared)
	handle := func(at time.Time) {
		h.advanceTo(at)
		(*shared.handler.Load())(peerAdvert(t, 200, at))
	}
	n := h.turns()
	handle(t0.Add(time.Second))
	h.settle(n)
	handle(t0.Add(2 * time.Second))
	if got := h.r.Status().AdvertsRecv; got != 2 {
		t.Fatalf("%d adverts received before the reconfiguration, want 2", got)
	}

	// Another virtual address: the master's adverts no longer match ours.
	spec := testSpec()
	spec.VirtualIPs = []netip.Prefix{netip.MustParsePrefix("198.51.100.101/24")}
	n = h.turns()
	if err := h.r.Reconfigure(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	h.settle(n) // Reconfigure returns before the loop ends its turn
	if !shared.watched().IsZero() {
		t.Fatal("the reader still watches a deadline set by copies from before the reconfiguration")
	}
	n = h.turns()
	handle(t0.Add(3 * time.Second))
	if got := h.r.Status().AdvertsRecv; got != 2 {
		t.Fatalf("a copy from before the reconfiguration was taken as received (%d adverts)", got)
	}
	// The refused advert wakes the loop once, only to note the refusal for
	// the takeover's reason (TestRunnerTakeoverNamesRefusedAdverts).
	h.settle(n)
	// The copy deferred at 2 s was taken in before the reconfiguration:
	// with nothing valid since, the master is down 3.6 s after it.
	h.advanceTo(t0.Add(2*time.Second + testDown - 10*time.Millisecond))
	h.wantState("BACKUP")
	h.advanceTo(t0.Add(2*time.Second + testDown + 10*time.Millisecond))
	h.wantState("MASTER")
	if r := h.r.Status().LastReason; !strings.Contains(r, "were dropped: virtual IPs [198.51.100.100], ours [198.51.100.101]") {
		t.Fatalf("reason %q does not name the refused adverts", r)
	}
}

// TestRunnerTakeoverNamesRefusedAdverts: the master's adverts keep coming
// but with another address list, so the backup refuses them and takes over
// after Master_Down_Interval, as the RFC says; the reason names the refused
// adverts, which an operator must fix, instead of a silent master.
func TestRunnerTakeoverNamesRefusedAdverts(t *testing.T) {
	h := start(t, testSpec(), nil, nil)
	h.receive(200)
	h.wantState("BACKUP")
	other := []netip.Addr{netip.MustParseAddr("198.51.100.200")}
	for i := 0; i < 3; i++ {
		h.advance(testInterval)
		n := h.turns()
		h.conn.in <- peerAdvertFor(h.t, 200, other, h.clk.Now())
		h.settle(n) // the refusal reaches the loop
	}
	h.advance(testDown)
	h.wantState("MASTER")
	st := h.r.Status()
	want := "no valid advertisement for Master_Down_Interval (3.61s); advertisements from " + peerAddr.String() +
		" were dropped: virtual IPs [198.51.100.200], ours [198.51.100.100]"
	if st.LastReason != want {
		t.Fatalf("reason\n %q, want\n %q", st.LastReason, want)
	}
	if len(st.Conflicts) != 1 {
		t.Fatalf("conflicts %+v, want the address list", st.Conflicts)
	}
}
