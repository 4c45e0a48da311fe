package instance

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/host/vrrp/packet"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// The runner's unit tests replace what needs root (the socket, the
// interface's addresses, gratuitous ARP) and the clock with fakes that
// record what the runner did.

// fakeClock is time that moves only when the test says. It knows the
// loop's timer, so a test can tell when the loop has done all it had to
// and sleeps until a deadline in the future.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timer  *fakeTimer
	resets int // Reset calls: the loop resets its timer once per turn
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, ch: make(chan time.Time, 1)}
	c.timer = t
	t.arm(d)
	return t
}

// idle reports whether the loop has set its timer for a deadline still
// to come, and how many turns it has taken.
func (c *fakeClock) idle() (bool, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resets > 0 && c.timer.armed && c.timer.at.After(c.now), c.resets
}

// set moves the clock to at without firing the timer: only for a loop
// whose deadline is later.
func (c *fakeClock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer.armed && !c.timer.at.After(at) {
		panic("fakeClock.set past the loop's deadline")
	}
	c.now = at
}

// fakeTimer fires into a channel of one, as time.Timer does, when its
// clock reaches its deadline.
type fakeTimer struct {
	clk   *fakeClock
	ch    chan time.Time
	at    time.Time
	armed bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	t.clk.resets++
	return t.arm(d)
}

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := t.armed
	t.armed = false
	t.drain()
	return was
}

// arm sets the deadline d from now, dropping a value not yet received (Go
// 1.23's time.Timer). clk.mu is held.
func (t *fakeTimer) arm(d time.Duration) bool {
	was := t.armed
	t.drain()
	t.at, t.armed = t.clk.now.Add(d), true
	if d <= 0 {
		t.fire()
	}
	return was
}

func (t *fakeTimer) drain() {
	select {
	case <-t.ch:
	default:
	}
}

// fire sends the time, as a timer reaching its deadline. clk.mu is held.
func (t *fakeTimer) fire() {
	t.armed = false
	select {
	case t.ch <- t.clk.now:
	default:
	}
}

// sentAdvert is one advert the runner sent, decoded, and when.
type sentAdvert struct {
	at  time.Time
	dst netip.Addr
	ad  *packet.Advertisement
}

// fakeConn is a socket of the runner's own: Receive returns what the test
// puts in, Send decodes and records.
type fakeConn struct {
	t      *testing.T
	clk    *fakeClock
	source netip.Addr
	in     chan vrrpconn.Packet
	closed chan struct{}
	once   sync.Once

	mu   sync.Mutex
	sent []sentAdvert
}

func newFakeConn(t *testing.T, clk *fakeClock) *fakeConn {
	return &fakeConn{t: t, clk: clk, source: ourAddr, in: make(chan vrrpconn.Packet), closed: make(chan struct{})}
}

func (c *fakeConn) Source() netip.Addr { return c.source }

func (c *fakeConn) Send(payload []byte, dst netip.Addr) error {
	ad, err := packet.Unmarshal(slices.Clone(payload), c.source, dst)
	if err != nil {
		c.t.Errorf("the runner sent an advert that does not decode: %v", err)
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, sentAdvert{c.clk.Now(), dst, ad})
	return nil
}

func (c *fakeConn) Receive() (vrrpconn.Packet, error) {
	select {
	case pkt := <-c.in:
		return pkt, nil
	case <-c.closed:
		return vrrpconn.Packet{}, vrrpconn.ErrClosed
	}
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) adverts() []sentAdvert {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent)
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// fakeShared is an endpoint of a shared socket (vrrpconn.Endpoint): the
// test calls the runner's handler as the reader would, and plays the
// reader's part in watching the master-down deadline.
type fakeShared struct {
	*fakeConn
	handler atomic.Pointer[func(vrrpconn.Packet)]

	mu     sync.Mutex
	expiry func()
	until  time.Time
}

func (s *fakeShared) Handle(h func(vrrpconn.Packet)) { s.handler.Store(&h) }

func (s *fakeShared) OnExpiry(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiry = f
}

func (s *fakeShared) WatchUntil(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.until.IsZero() || at.After(s.until) {
		s.until = at
	}
}

func (s *fakeShared) Unwatch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.until = time.Time{}
}

func (s *fakeShared) watched() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.until
}

// expire does what the reader does when the deadline has passed.
func (s *fakeShared) expire() {
	s.mu.Lock()
	f := s.expiry
	s.until = time.Time{}
	s.mu.Unlock()
	f()
}

// fakeAddresses is the interface's addresses.
type fakeAddresses struct {
	mu   sync.Mutex
	has  map[netip.Prefix]bool
	done []string // "add P", "remove P", in order
}

func (a *fakeAddresses) Add(p netip.Prefix) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.has[p] = true
	a.done = append(a.done, "add "+p.String())
	return nil
}

func (a *fakeAddresses) Remove(p netip.Prefix) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.has, p)
	a.done = append(a.done, "remove "+p.String())
	return nil
}

func (a *fakeAddresses) Has(p netip.Prefix) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.has[p], nil
}

func (a *fakeAddresses) held() []netip.Prefix {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []netip.Prefix
	for p := range a.has {
		out = append(out, p)
	}
	return out
}

func (a *fakeAddresses) log() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.done)
}

// fakeAnnouncer records gratuitous ARP, one entry per packet.
type fakeAnnouncer struct {
	mu    sync.Mutex
	clk   *fakeClock
	times []time.Time
	addrs [][]netip.Addr
}

func (a *fakeAnnouncer) Announce(addrs []netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.times = append(a.times, a.clk.Now())
	a.addrs = append(a.addrs, slices.Clone(addrs))
	return nil
}

func (a *fakeAnnouncer) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.times)
}

// packet returns when the i-th gratuitous ARP went out and what it announced.
func (a *fakeAnnouncer) packet(i int) (time.Time, []netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.times[i], a.addrs[i]
}
