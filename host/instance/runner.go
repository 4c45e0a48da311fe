// Package instance runs one configured VRRP instance: it feeds the pure state
// machine (package vrrp) with received advertisements, timer ticks and
// outside events, and carries out the actions it returns on the network: send
// advertisements, add and remove the virtual addresses, announce them with
// gratuitous ARP.
package instance

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/control"
	"github.com/hasidecar/hasidecar/host/timegrid"
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

	fsm    *vrrp.Instance
	expect atomic.Pointer[packet.Expectation] // written by the loop, read by the receiver
	vips   []netip.Addr
	events chan vrrp.Event
	pings  chan chan struct{}
	calls  chan func()

	// seen is what the last snapshot showed; most events (an advert
	// received or sent) change none of it, and skip the snapshot.
	seen snapshotKey

	// repeat is the advert whose copies only restart the master-down
	// timer (see vrrp.Instance.OnlyRestartsTimer): the receiver leaves
	// such a copy in deferred instead of waking the loop, which takes it in
	// before its next event or deadline. Both are set by the receiver and
	// the loop; the loop alone sets repeat.
	repeat   atomic.Pointer[repeatable]
	deferred atomic.Pointer[deferredAdvert]

	sent, recv atomic.Uint64

	mu        sync.Mutex
	status    control.InstanceStatus
	dropped   map[string]uint64
	conflicts map[string]*conflictRecord // by kind and peer (conflict.go)
	onChange  func(vrrp.Transition, uint8)
	onWant    func(bool) // a held backup wants to be master (sync groups)
}

// received is an advert the receiver checked, with the packet it came in
// and the deferred copy that arrived before it, which the loop takes in
// first.
type received struct {
	ad    vrrp.AdvertReceived
	pkt   vrrpconn.Packet
	prior *deferredAdvert
}

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

// New prepares a runner; nothing touches the network until Run.
func New(spec Spec, conn Conn, addrs Addresses, garp Announcer, log *zap.Logger) (*Runner, error) {
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
		fsm:     fsm,
		vips:    vips,
		events:  make(chan vrrp.Event, 16),
		pings:   make(chan chan struct{}),
		calls:   make(chan func()),
		dropped: map[string]uint64{},
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

// Reconfigure applies a changed spec in the runner's loop, keeping its state:
// on a master, virtual addresses that stay are never touched, added ones are
// added and announced, removed ones removed. The interface, VRID, version
// and the choice of multicast or unicast identify the instance and cannot
// change: the caller replaces the runner for those.
func (r *Runner) Reconfigure(ctx context.Context, spec Spec) error {
	errc := make(chan error, 1)
	select {
	case r.calls <- func() { errc <- r.reconfigure(spec) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NeedsReplacing reports whether next describes another virtual router than
// prev (interface, VRID, version, multicast or unicast, address owner), so
// that Reconfigure cannot apply it and the runner must be replaced.
func NeedsReplacing(prev, next Spec) bool {
	return next.Interface != prev.Interface || next.VRID != prev.VRID || next.Version != prev.Version ||
		(len(next.UnicastPeers) == 0) != (len(prev.UnicastPeers) == 0) ||
		(next.Priority == vrrp.OwnerPriority) != (prev.Priority == vrrp.OwnerPriority)
}

func (r *Runner) reconfigure(spec Spec) error {
	if NeedsReplacing(r.spec, spec) {
		return fmt.Errorf("instance %s: interface, VRID, version or unicast mode changed: the instance must be replaced", spec.Name)
	}
	if err := r.fsm.Reconfigure(fsmConfig(spec, r.conn.Source())); err != nil {
		return fmt.Errorf("instance %s: %w", spec.Name, err)
	}
	added, removed := diffPrefixes(held(r.spec), held(spec))
	vips := make([]netip.Addr, len(spec.VirtualIPs))
	for i, p := range spec.VirtualIPs {
		vips[i] = p.Addr()
	}
	e := expectation(spec, vips)
	r.spec, r.vips = spec, vips
	r.expect.Store(&e)
	if p, ok := r.conn.(pacer); ok {
		p.Paced(spec.AdvertInterval)
	}
	if r.fsm.State() == vrrp.Master {
		var fresh []netip.Addr
		for _, p := range added {
			if err := r.addrs.Add(p); err != nil {
				r.log.Error("adding virtual address", zap.Stringer("address", p), zap.Error(err))
				continue
			}
			fresh = append(fresh, p.Addr())
		}
		for _, p := range removed {
			if err := r.addrs.Remove(p); err != nil {
				r.log.Error("removing virtual address", zap.Stringer("address", p), zap.Error(err))
			}
		}
		for i := 0; i < garpBurst && len(fresh) > 0; i++ {
			if err := r.garp.Announce(fresh); err != nil {
				r.log.Warn("sending gratuitous ARP for added addresses", zap.Error(err))
				break
			}
		}
	}
	r.log.Info("reconfigured", zap.String("state", r.fsm.State().String()),
		zap.Int("virtual_ips_added", len(added)), zap.Int("virtual_ips_removed", len(removed)))
	r.snapshot(nil)
	return nil
}

// diffPrefixes returns what is in b and not in a, and what is in a and not in b.
func diffPrefixes(a, b []netip.Prefix) (added, removed []netip.Prefix) {
	in := func(p netip.Prefix, set []netip.Prefix) bool {
		for _, q := range set {
			if p == q {
				return true
			}
		}
		return false
	}
	for _, p := range b {
		if !in(p, a) {
			added = append(added, p)
		}
	}
	for _, p := range a {
		if !in(p, b) {
			removed = append(removed, p)
		}
	}
	return added, removed
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

// Status is a snapshot for `hasidecar status`.
func (r *Runner) Status() control.InstanceStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.status
	st.AdvertsSent, st.AdvertsRecv = r.sent.Load(), r.recv.Load()
	st.Dropped = make(map[string]uint64, len(r.dropped))
	for k, v := range r.dropped {
		st.Dropped[k] = v
	}
	st.Conflicts = r.conflictStatusLocked(time.Now())
	// A shared socket drops for an instance whose loop fell behind.
	if q, ok := r.conn.(interface{ Overflows() uint64 }); ok {
		if n := q.Overflows(); n > 0 {
			st.Dropped["receive queue full"] += n
		}
	}
	return st
}

// Run takes part in the election until ctx ends, then resigns (priority 0 if
// master), removes the virtual addresses and returns.
func (r *Runner) Run(ctx context.Context) error {
	r.removeStale()

	// Valid adverts only, one per interval per peer: a small queue. A
	// channel's buffer is allocated whole and scanned by every garbage
	// collection; 200 instances with 256 slots each held 13 MB, and marking
	// it stalled the adverts of all instances by up to 10 ms.
	adverts := make(chan received, 32)
	recvDone := make(chan error, 1)
	// The receiver gives up a pending delivery when the loop has gone.
	recvCtx, stopRecv := context.WithCancel(ctx)
	defer stopRecv()
	w, _ := r.conn.(watcher)
	if h, ok := r.conn.(interface{ Handle(func(vrrpconn.Packet)) }); ok {
		// A shared socket's reader validates our packets itself and passes
		// them on without waiting: a full queue drops, as a socket would.
		h.Handle(func(pkt vrrpconn.Packet) {
			if r.deferRepeat(pkt, w) {
				return
			}
			if ad, ok := r.validate(pkt); ok {
				select {
				case adverts <- received{ad, pkt, r.deferred.Swap(nil)}:
				default:
					r.countDrop("receive queue full")
				}
			}
		})
	}
	go func() { recvDone <- r.receive(adverts, recvCtx.Done()) }()

	if p, ok := r.conn.(pacer); ok {
		p.Paced(r.spec.AdvertInterval)
	}
	down := make(chan struct{}, 1) // the reader says the master-down deadline passed
	if w != nil {
		w.OnExpiry(func() {
			select {
			case down <- struct{}{}:
			default:
			}
		})
		defer w.Unwatch()
	}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var garpAt time.Time // when the second gratuitous ARP burst is due

	stepAt := func(now time.Time, ev vrrp.Event) {
		if r.apply(now, ev) {
			garpAt = now.Add(garpSecondBurst)
		}
	}
	var last *repeatable // the last advert handled, while it may repeat
	takeAdvert := func(rc received) {
		if rc.prior != nil {
			stepAt(rc.prior.at, rc.prior.ad)
		}
		stepAt(time.Now(), rc.ad)
		last = &repeatable{src: rc.pkt.Src, dst: rc.pkt.Dst, ttl: rc.pkt.TTL, payload: string(rc.pkt.Payload), ad: rc.ad}
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
			r.takeDeferred(stepAt)
			return
		}
	}
	step := func(ev vrrp.Event) {
		catchUp()
		stepAt(time.Now(), ev)
	}
	// Events delivered before Run (the first health results, a link that is
	// already down) apply before Start, so the instance starts where it
	// stands instead of passing through BACKUP on its way to FAULT.
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
		next := r.fsm.NextDeadline()
		if !garpAt.IsZero() && (next.IsZero() || garpAt.Before(next)) {
			next = garpAt
		}
		if p := r.repeat.Load(); p != nil && w != nil && r.fsm.State() == vrrp.Backup && !next.IsZero() {
			next = next.Add(backstop * p.downAfter) // the reader keeps the real deadline
		}
		wait := time.Hour
		if !next.IsZero() {
			// On the grid the deadlines of all instances share, so that
			// those due together wake the process once (see timegrid).
			wait = time.Until(timegrid.Align(next, timegrid.Step(r.fsm.AdvertInterval())))
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
			r.repeat.Store(nil)
			catchUp()
			last = nil
			call()
		case <-down:
			catchUp()
			step(vrrp.Tick{})
		case <-timer.C:
			catchUp()
			if !garpAt.IsZero() && !time.Now().Before(garpAt) {
				garpAt = time.Time{}
				if r.fsm.State() == vrrp.Master {
					r.announce("second burst")
				}
			}
			step(vrrp.Tick{})
		}
		var withdrawn bool
		if last, withdrawn = r.offerRepeat(last, w); withdrawn {
			// A copy deferred just before the withdrawal is taken in
			// now; the receiver sends later ones the ordinary way.
			catchUp()
		}
	}
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

// apply hands one event to the state machine and carries out its actions. It
// reports whether the actions included a first gratuitous ARP burst.
func (r *Runner) apply(now time.Time, ev vrrp.Event) (announced bool) {
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
			if a.Reason != vrrp.BecameMaster {
				r.log.Info("announcing the virtual addresses again", zap.String("reason", a.Reason))
			}
			r.announce(a.Reason)
			announced = true
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
		return vrrp.AdvertReceived{}, false // our own, looped back
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
			r.noteConflict(kind, pkt.Src.String(), msg, time.Now())
			r.countDrop(string(reason)) // logged as a conflict, at error level
			return vrrp.AdvertReceived{}, false
		}
		r.drop(reason, pkt, nil)
		return vrrp.AdvertReceived{}, false
	}
	r.recv.Add(1)
	return vrrp.AdvertReceived{From: pkt.Src, Priority: ad.Priority, Interval: ad.Interval}, true
}

func (r *Runner) countDrop(reason string) {
	r.mu.Lock()
	r.dropped[reason]++
	r.mu.Unlock()
}

func (r *Runner) drop(reason packet.Reason, pkt vrrpconn.Packet, err error) {
	r.mu.Lock()
	r.dropped[string(reason)]++
	n := r.dropped[string(reason)]
	r.mu.Unlock()
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

// snapshotKey is what a status snapshot depends on, apart from the spec
// (changed only by reconfigure, which always snapshots).
type snapshotKey struct {
	state       vrrp.State
	effective   uint8
	master      netip.Addr
	transitions int
	faults      int
	interval    time.Duration
	masterPrio  uint8
}

func (r *Runner) snapshotKey() snapshotKey {
	return snapshotKey{r.fsm.State(), r.fsm.EffectivePriority(), r.fsm.MasterAddress(), r.fsm.Transitions(),
		r.fsm.NumFaults(), r.fsm.AdvertInterval(), r.fsm.MasterPriority()}
}

func (r *Runner) snapshot(moved *vrrp.Transition) {
	r.seen = r.snapshotKey()
	vips := make([]string, len(r.spec.VirtualIPs))
	for i, p := range r.spec.VirtualIPs {
		vips[i] = p.String()
	}
	master := ""
	if a := r.fsm.MasterAddress(); a.IsValid() {
		master = a.String()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &r.status
	st.Name = r.spec.Name
	st.State = r.fsm.State().String()
	st.Priority = int(r.spec.Priority)
	st.EffectivePriority = int(r.fsm.EffectivePriority())
	st.VirtualRouterID = int(r.spec.VRID)
	st.Interface = r.spec.Interface
	st.VirtualIPs = vips
	st.MasterAddress = master
	st.Transitions = r.fsm.Transitions()
	st.Version = int(r.spec.Version)
	st.AdvertInterval = r.fsm.AdvertInterval().String()
	st.Faults = r.fsm.Faults()
	st.MasterPriority = int(r.fsm.MasterPriority())
	if moved != nil {
		st.LastReason = moved.Reason
	}
}
