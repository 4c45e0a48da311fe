// Package instance runs one configured VRRP instance: it feeds the pure state
// machine (package vrrp) with received advertisements, timer ticks and
// outside events, and carries out the actions it returns on the network: send
// advertisements, add and remove the virtual addresses, announce them with
// gratuitous ARP.
package instance

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/drops"
	"github.com/hasidecar/hasidecar/host/status"
	"github.com/hasidecar/hasidecar/host/vrrp"
	"github.com/hasidecar/hasidecar/host/vrrp/packet"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// Spec is one vrrp_instance from the configuration.
type Spec struct {
	Name           string
	Interface      string
	VRID           uint8
	Priority       uint8
	Version        uint8
	AdvertInterval time.Duration
	Preempt        bool
	PreemptDelay   time.Duration
	VirtualIPs     []netip.Prefix
	// ExcludedIPs are held with VirtualIPs but not advertised (keepalived's
	// virtual_ipaddress_excluded); either family.
	ExcludedIPs  []netip.Prefix
	UnicastPeers []netip.Addr // empty: multicast to 224.0.0.18 or ff02::12
	AuthPass     string       // VRRPv2 simple password; empty: no authentication
	// LowerPriorityIsResignation: see vrrp.Config.
	LowerPriorityIsResignation bool
}

// Conn sends and receives VRRP packets on the instance's interface.
type Conn interface {
	Source() netip.Addr
	Send(payload []byte, dst netip.Addr) error
	Receive() (vrrpconn.Packet, error)
	Close() error
}

// Addresses adds and removes virtual addresses on the interface.
type Addresses interface {
	Add(netip.Prefix) error
	Remove(netip.Prefix) error
	Has(netip.Prefix) (bool, error)
}

// Announcer sends gratuitous ARP for addresses.
type Announcer interface {
	Announce([]netip.Addr) error
}

// Gratuitous ARP as keepalived sends it by default (garp_master_repeat 5,
// garp_master_delay 5): a burst on becoming master and another 5 s later, for
// switches and hosts that missed the first.
const (
	garpBurst       = 5
	garpSecondBurst = 5 * time.Second
)

// Runner drives one instance. Create it with New, start it with Run.
type Runner struct {
	spec  Spec
	log   *zap.Logger
	conn  Conn
	addrs Addresses
	garp  Announcer
	clock clock

	fsm    *vrrp.Instance
	expect atomic.Pointer[packet.Expectation] // written by the loop, read by the receiver
	vips   []netip.Addr
	events chan vrrp.Event
	pings  chan chan struct{}
	calls  chan func()

	// seen is what the last snapshot showed; most events (an advert
	// received or sent) change none of it, and skip the snapshot.
	seen snapshotKey

	sent, recv atomic.Uint64
	// droppedToldAt is when the receiver last told the loop of a refused
	// advert, to do so at most once a second (receive.go); a time.Time, so
	// that a step of the wall clock does not silence it.
	droppedToldAt atomic.Pointer[time.Time]

	mu        sync.Mutex
	running   bool         // Run has begun: Deliver sends to events
	pending   []vrrp.Event // delivered before Run
	status    status.InstanceStatus
	dropped   *drops.Counter             // shared with the socket's endpoint (receive.go)
	conflicts map[string]*conflictRecord // by kind and peer (conflict.go)
	onChange  func(vrrp.Transition, uint8)
	onWant    func(bool) // a held backup wants to be master (sync groups)
}

// New prepares a runner; nothing touches the network until Run.
func New(spec Spec, conn Conn, addrs Addresses, garp Announcer, log *zap.Logger) (*Runner, error) {
	return newRunner(spec, conn, addrs, garp, log, realClock{})
}

// newRunner is New with the clock the loop reads (a test's own in unit
// tests).
func newRunner(spec Spec, conn Conn, addrs Addresses, garp Announcer, log *zap.Logger, clk clock) (*Runner, error) {
	fsm, err := vrrp.New(fsmConfig(spec, conn.Source()))
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", spec.Name, err)
	}
	vips := make([]netip.Addr, len(spec.VirtualIPs))
	for i, p := range spec.VirtualIPs {
		vips[i] = p.Addr()
	}
	r := &Runner{
		spec:    spec,
		log:     log.With(zap.String("instance", spec.Name), zap.Uint8("vrid", spec.VRID), zap.String("interface", spec.Interface)),
		conn:    conn,
		addrs:   addrs,
		garp:    garp,
		clock:   clk,
		fsm:     fsm,
		vips:    vips,
		events:  make(chan vrrp.Event, 16),
		pings:   make(chan chan struct{}),
		calls:   make(chan func()),
		dropped: dropsOf(conn),
	}
	e := expectation(spec, vips)
	r.expect.Store(&e)
	r.snapshot(nil)
	return r, nil
}

// expectation is what the instance accepts from its peers.
func expectation(spec Spec, vips []netip.Addr) packet.Expectation {
	e := packet.Expectation{
		Version:   spec.Version,
		VRID:      spec.VRID,
		Interval:  spec.AdvertInterval,
		Addresses: vips,
		Multicast: len(spec.UnicastPeers) == 0,
	}
	if spec.AuthPass != "" {
		e.AuthType = packet.AuthPass
		e.AuthPass = spec.AuthPass
	}
	return e
}

func fsmConfig(spec Spec, source netip.Addr) vrrp.Config {
	return vrrp.Config{
		VRID:                       spec.VRID,
		Priority:                   spec.Priority,
		Version:                    spec.Version,
		AdvertInterval:             spec.AdvertInterval,
		Preempt:                    spec.Preempt,
		PreemptDelay:               spec.PreemptDelay,
		Address:                    source,
		LowerPriorityIsResignation: spec.LowerPriorityIsResignation,
	}
}

// OnTransition registers f to be called (from the runner's goroutine) after
// every state change, with the effective priority at that moment.
func (r *Runner) OnTransition(f func(t vrrp.Transition, priority uint8)) { r.onChange = f }

// OnWantMaster registers f to be called (from the runner's goroutine) when
// the instance, held back by its sync group, would become master (true) or
// follows a master again (false).
func (r *Runner) OnWantMaster(f func(want bool)) { r.onWant = f }

// Deliver hands the runner an outside event (a fault raised or cleared, a new
// effective priority). It blocks only while the runner is busy, and gives up
// when ctx ends.
func (r *Runner) Deliver(ctx context.Context, ev vrrp.Event) {
	// Before Run, events wait in a list: the daemon hands a runner its
	// health, links and maintenance before starting it, and a channel's
	// few slots would block it with many tracks.
	r.mu.Lock()
	if !r.running {
		r.pending = append(r.pending, ev)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	select {
	case r.events <- ev:
	case <-ctx.Done():
	}
}

// Alive reports whether the runner's loop answers within ctx: the systemd
// watchdog is fed only while every instance is alive.
func (r *Runner) Alive(ctx context.Context) bool {
	reply := make(chan struct{})
	select {
	case r.pings <- reply:
	case <-ctx.Done():
		return false
	}
	select {
	case <-reply:
		return true
	case <-ctx.Done():
		return false
	}
}

// Run takes part in the election until ctx ends, then resigns (priority 0 if
// master), removes the virtual addresses and returns.
func (r *Runner) Run(ctx context.Context) error {
	r.removeStale()

	// Valid adverts only, one per interval per peer: a small queue, as a
	// channel's buffer is allocated whole and scanned by every garbage
	// collection (docs/performance.md).
	adverts := make(chan received, 32)
	recvDone := make(chan error, 1)
	// The receiver gives up a pending delivery when the loop has gone.
	recvCtx, stopRecv := context.WithCancel(ctx)
	defer stopRecv()
	w, _ := r.conn.(watcher)
	times := newTimetable(r.fsm, w) // when to wake, and the deferred copies
	defer times.stop()
	if h, ok := r.conn.(interface{ Handle(func(vrrpconn.Packet)) }); ok {
		// A shared socket's reader validates our packets itself and passes
		// them on without waiting: a full queue drops, as a socket would.
		h.Handle(func(pkt vrrpconn.Packet) {
			if times.deferCopy(pkt) {
				r.recv.Add(1)
				return
			}
			if ad, ok := r.validate(pkt); ok {
				select {
				case adverts <- received{ad, pkt, times.takeDeferred()}:
				default:
					r.dropped.Add(drops.QueueFull)
				}
			}
		})
	}
	go func() { recvDone <- r.receive(adverts, recvCtx.Done()) }()

	if p, ok := r.conn.(pacer); ok {
		p.Paced(r.spec.AdvertInterval)
	}
	timer := r.clock.NewTimer(time.Hour)
	defer timer.Stop()

	stepAt := func(now time.Time, ev vrrp.Event) {
		if kind := r.apply(now, ev); kind != nil {
			times.announced(now, *kind)
		}
	}
	takeAdvert := func(rc received) {
		if rc.prior != nil {
			stepAt(rc.prior.at, rc.prior.ad)
		}
		stepAt(r.clock.Now(), rc.ad)
		times.handled(rc.pkt, rc.ad)
	}
	// catchUp takes in, in the order they arrived, the adverts queued and
	// then the deferred copy that came after them, before any other event.
	catchUp := func() {
		for {
			select {
			case rc := <-adverts:
				takeAdvert(rc)
				continue
			default:
			}
			if d := times.takeDeferred(); d != nil {
				stepAt(d.at, d.ad)
			}
			return
		}
	}
	step := func(ev vrrp.Event) {
		catchUp()
		stepAt(r.clock.Now(), ev)
	}
	// Events delivered before Run (the first health results, a link that is
	// already down) apply before Start, so the instance starts where it
	// stands instead of passing through BACKUP on its way to FAULT.
	r.mu.Lock()
	pending := r.pending
	r.pending, r.running = nil, true
	r.mu.Unlock()
	for _, ev := range pending {
		step(ev)
	}
	for drained := false; !drained; {
		select {
		case ev := <-r.events:
			step(ev)
		default:
			drained = true
		}
	}
	step(vrrp.Start{})
	for {
		wait := time.Hour
		if at := times.next(); !at.IsZero() {
			wait = at.Sub(r.clock.Now())
		}
		timer.Reset(max(wait, 0))

		select {
		case <-ctx.Done():
			step(vrrp.Stop{})
			r.conn.Close()
			<-recvDone
			return nil
		case err := <-recvDone:
			// The socket failed: leave as if stopping, so the VIPs go with us.
			step(vrrp.Stop{})
			return fmt.Errorf("instance %s: receiving advertisements: %w", r.spec.Name, err)
		case rc := <-adverts:
			takeAdvert(rc) // copies deferred after rc wait for the next event
		case ev := <-r.events:
			step(ev)
		case reply := <-r.pings:
			close(reply)
		case call := <-r.calls:
			// A reconfiguration may change what a copy means.
			times.withdraw(catchUp)
			call()
		case <-times.expired():
			catchUp()
			step(vrrp.Tick{})
		case <-timer.C():
			catchUp()
			if burst := times.burstDue(r.clock.Now()); burst != "" {
				r.announce(burst)
			}
			step(vrrp.Tick{})
		}
		if times.offer() {
			// A copy deferred just before the withdrawal is taken in
			// now; the receiver sends later ones the ordinary way.
			catchUp()
		}
	}
}

// apply hands one event to the state machine and carries out its actions. It
// returns the kind of gratuitous ARP burst the actions sent, if any.
func (r *Runner) apply(now time.Time, ev vrrp.Event) (announced *vrrp.AnnounceKind) {
	acts := r.fsm.Handle(now, ev)
	var moved *vrrp.Transition
	for _, a := range acts {
		switch a := a.(type) {
		case vrrp.Transition:
			moved = &a
			r.log.Info("state changed",
				zap.String("from", a.From.String()), zap.String("to", a.To.String()),
				zap.String("reason", a.Reason), zap.Uint8("priority", r.fsm.EffectivePriority()))
		case vrrp.SendAdvertisement:
			r.send(a)
		case vrrp.AddAddresses:
			for _, p := range held(r.spec) {
				if err := r.addrs.Add(p); err != nil {
					r.log.Error("adding virtual address", zap.Stringer("address", p), zap.Error(err))
				}
			}
		case vrrp.RemoveAddresses:
			for _, p := range held(r.spec) {
				if err := r.addrs.Remove(p); err != nil {
					r.log.Error("removing virtual address", zap.Stringer("address", p), zap.Error(err))
				}
			}
		case vrrp.Announce:
			if a.Kind != vrrp.BecameMaster {
				r.log.Info("announcing the virtual addresses again", zap.String("reason", a.Reason))
			}
			r.announce(a.Reason)
			announced = &a.Kind
		case vrrp.WantMaster:
			if r.onWant != nil {
				r.onWant(a.Want)
			}
		}
	}
	if moved != nil || r.snapshotKey() != r.seen {
		r.snapshot(moved)
	}
	if moved != nil && r.onChange != nil {
		r.onChange(*moved, r.fsm.EffectivePriority())
	}
	return announced
}

// send builds and sends one advertisement: to 224.0.0.18, or to each unicast
// peer with that peer in the v3 pseudo-header checksum.
func (r *Runner) send(a vrrp.SendAdvertisement) {
	ad := packet.Advertisement{
		Version:   r.spec.Version,
		VRID:      r.spec.VRID,
		Priority:  a.Priority,
		Interval:  a.Interval,
		Addresses: r.vips,
	}
	if r.expect.Load().AuthType == packet.AuthPass {
		ad.AuthType = packet.AuthPass
		copy(ad.AuthData[:], r.spec.AuthPass)
	}
	dsts := r.spec.UnicastPeers
	if len(dsts) == 0 {
		dsts = []netip.Addr{packet.Group(r.conn.Source())}
	}
	for _, dst := range dsts {
		b, err := ad.Marshal(r.conn.Source(), dst)
		if err != nil {
			r.log.Error("building advertisement", zap.Error(err))
			return
		}
		if err := r.conn.Send(b, dst); err != nil {
			r.log.Warn("sending advertisement", zap.Stringer("to", dst), zap.Error(err))
			continue
		}
		r.sent.Add(1)
	}
}

func (r *Runner) announce(why string) {
	for i := 0; i < garpBurst; i++ {
		if err := r.garp.Announce(r.announced()); err != nil {
			r.log.Warn("sending gratuitous ARP", zap.String("burst", why), zap.Error(err))
			return
		}
	}
	r.log.Debug("sent gratuitous ARP", zap.String("burst", why), zap.Int("count", garpBurst))
}

// removeStale removes virtual addresses left on the interface, typically by a
// crash while master, so that we never answer for them before winning the
// election.
func (r *Runner) removeStale() {
	for _, p := range held(r.spec) {
		has, err := r.addrs.Has(p)
		if err != nil {
			r.log.Warn("checking for a stale virtual address", zap.Stringer("address", p), zap.Error(err))
			continue
		}
		if !has {
			continue
		}
		if err := r.addrs.Remove(p); err != nil {
			r.log.Error("removing a stale virtual address", zap.Stringer("address", p), zap.Error(err))
			continue
		}
		r.log.Warn("removed a virtual address left on the interface before the election (a previous run did not release it)",
			zap.Stringer("address", p))
	}
}
