package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/bgp"
	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/health"
	"github.com/hasidecar/hasidecar/host/status"
	"github.com/hasidecar/hasidecar/host/vip"
	"github.com/hasidecar/hasidecar/host/vrrp"
)

// bgpRunner keeps the embedded speaker's announcements equal to what
// desiredRoutes makes of the daemon's state: a worker recomputes them after
// every kick (a transition, a health change, a reload), so that neither a
// VRRP loop nor the health fan-out ever waits on BGP.
type bgpRunner struct {
	log     *zap.Logger
	speaker *bgp.Speaker
	kick    chan struct{} // capacity 1: kicks coalesce
	quit    chan struct{} // closed to end the worker before the speaker stops
	stopped chan struct{} // closed when the worker has returned

	mu     sync.Mutex
	cfg    config.BGP
	states map[*tracked]vrrp.State // last state of each instance that announces
	binder *vip.Manager            // bind_interface, holding bgp_announce host routes
	bound  []netip.Prefix
}

// bgpStopTimeout bounds the withdrawal at shutdown: a router that does not
// answer must not hold the daemon's exit.
const bgpStopTimeout = 3 * time.Second

// startBGP starts the speaker for cfg.BGP, if there is one, and dials its
// peers; the worker runs until ctx ends.
func (d *Daemon) startBGP(ctx context.Context, cfg *config.Config) error {
	if cfg.BGP == nil {
		return nil
	}
	sp, err := d.bgpEngine.Start(ctx, bgp.Config{ASN: cfg.BGP.ASN, RouterID: cfg.BGP.RouterID})
	if err != nil {
		return err
	}
	// A speaker that cannot be set up stops within bgpStopTimeout, as at
	// shutdown: a reload holds its lock meanwhile.
	stopSpeaker := func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), bgpStopTimeout)
		defer cancel()
		_ = sp.Stop(stopCtx)
	}
	binder, err := vip.New(cfg.BGP.BindInterface, d.log)
	if err != nil {
		stopSpeaker()
		return fmt.Errorf("bgp: bind_interface: %w", err)
	}
	b := &bgpRunner{log: d.log.With(zap.String("component", "bgp")), speaker: sp, kick: make(chan struct{}, 1),
		quit: make(chan struct{}), stopped: make(chan struct{}), cfg: *cfg.BGP, states: map[*tracked]vrrp.State{}, binder: binder}
	if err := b.bind(cfg.BGPAnnounces); err != nil {
		stopSpeaker()
		b.stop()
		return err
	}
	if err := sp.SetPeers(ctx, peersOf(cfg.BGP)); err != nil {
		stopSpeaker()
		b.stop()
		return err
	}
	d.bgp.Store(b)
	go func() {
		defer close(b.stopped)
		for {
			select {
			case <-ctx.Done():
				return
			case <-b.quit:
				return
			case <-b.kick:
				d.applyBGP(ctx, b)
			}
		}
	}()
	b.log.Info("bgp speaker started", zap.Uint32("asn", cfg.BGP.ASN), zap.Stringer("router_id", cfg.BGP.RouterID),
		zap.Int("peers", len(cfg.BGP.Peers)))
	d.kickBGP()
	return nil
}

func peersOf(c *config.BGP) []bgp.Peer {
	var out []bgp.Peer
	for _, p := range c.Peers {
		out = append(out, bgp.Peer{Name: p.Name, Address: p.Address, ASN: p.ASN, Port: p.Port, Password: p.Password, HoldTime: p.HoldTime})
	}
	return out
}

// kickBGP asks the worker to bring the announcements up to date.
func (d *Daemon) kickBGP() {
	if b := d.bgp.Load(); b != nil {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// noteState records an announcing instance's new state for the worker.
func (d *Daemon) noteState(t *tracked, s vrrp.State) {
	b := d.bgp.Load()
	if b == nil {
		return
	}
	b.mu.Lock()
	b.states[t] = s
	b.mu.Unlock()
	d.kickBGP()
}

// applyBGP announces what should be and withdraws what should not.
func (d *Daemon) applyBGP(ctx context.Context, b *bgpRunner) {
	type announcing struct {
		t  *tracked
		in vrrpAnnouncer
	}
	d.mu.Lock()
	announces := d.cfg.BGPAnnounces
	runners := slices.Clone(d.runners)
	var mine []announcing
	for _, t := range runners {
		if t.ic.Announce == config.AnnounceBGP {
			fit := d.allHealthy(t.checks) && !d.inMaintenance(t.ic.Name)
			mine = append(mine, announcing{t, vrrpAnnouncer{vips: t.ic.VirtualIPs, backupMED: t.ic.BackupMED, fit: fit}})
		}
	}
	d.mu.Unlock()
	var instances []vrrpAnnouncer
	b.mu.Lock()
	for t := range b.states {
		if !slices.Contains(runners, t) {
			delete(b.states, t) // removed by a reload
		}
	}
	for _, a := range mine {
		state, ok := b.states[a.t]
		if !ok {
			// Its last transition came before the speaker started (a
			// reload added the bgp block): the runner's status says.
			state = stateNamed(a.t.Status().State)
		}
		a.in.state = state
		instances = append(instances, a.in)
	}
	b.mu.Unlock()
	var anycast []anycastAnnouncer
	for _, a := range announces {
		var tracks []health.Track
		for _, tc := range a.TrackChecks {
			tracks = append(tracks, health.Track{Check: tc.Check})
		}
		anycast = append(anycast, anycastAnnouncer{prefixes: a.Prefixes, healthy: d.allHealthy(tracks)})
	}
	want := desiredRoutes(instances, anycast)
	announced := b.speaker.Announced()
	for _, p := range announced {
		if _, ok := want[p]; !ok {
			if err := b.speaker.Withdraw(ctx, p); err != nil {
				b.log.Error("withdrawing", zap.Stringer("prefix", p), zap.Error(err))
			} else {
				b.log.Info("withdrew route", zap.Stringer("prefix", p))
			}
		}
	}
	for _, r := range want {
		was := slices.Contains(announced, r.Prefix)
		if err := b.speaker.Announce(ctx, r); err != nil {
			b.log.Error("announcing", zap.Stringer("prefix", r.Prefix), zap.Error(err))
		} else if !was {
			b.log.Info("announced route", zap.Stringer("prefix", r.Prefix), zap.Uint32("med", r.MED))
		}
	}
}

// bind holds the host routes of bgp_announce blocks on bind_interface, so
// that nginx accepts traffic for them, and releases those no longer named.
func (b *bgpRunner) bind(announces []config.BGPAnnounce) error {
	var want []netip.Prefix
	for _, a := range announces {
		for _, p := range a.Prefixes {
			if p.Bits() == p.Addr().BitLen() && !slices.Contains(want, p) {
				want = append(want, p)
			}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.bound {
		if !slices.Contains(want, p) {
			if err := b.binder.Remove(p); err != nil {
				b.log.Warn("unbinding", zap.Stringer("prefix", p), zap.Error(err))
			}
		}
	}
	b.bound = nil
	for _, p := range want {
		if err := b.binder.Add(p); err != nil {
			return fmt.Errorf("bgp: binding %s on %s: %w", p, b.cfg.BindInterface, err)
		}
		b.bound = append(b.bound, p)
	}
	return nil
}

// reloadBGP applies a reloaded configuration's bgp parts: a new or removed
// bgp block starts or stops the speaker; peers are set again (sessions that
// stay are kept); bound prefixes follow the bgp_announce blocks.
func (d *Daemon) reloadBGP(ctx context.Context, old, next *config.Config) error {
	b := d.bgp.Load()
	switch {
	case b == nil && next.BGP == nil:
		return nil
	case b == nil:
		return d.startBGP(d.ctx, next)
	case next.BGP == nil:
		d.bgp.Store(nil)
		d.stopBGPRunner(b)
		return nil
	}
	if next.BGP.ASN != b.cfg.ASN || next.BGP.RouterID != b.cfg.RouterID || next.BGP.BindInterface != b.cfg.BindInterface {
		d.log.Warn("bgp asn, router_id or bind_interface changed; it takes effect at the next restart")
	}
	// Bound and announced whatever the peers said: a peer that could not be
	// set must not leave a new prefix announced but unbound.
	errPeers := b.speaker.SetPeers(ctx, peersOf(next.BGP))
	errBind := b.bind(next.BGPAnnounces)
	d.kickBGP()
	return errors.Join(errPeers, errBind)
}

// stopBGP withdraws every announcement and closes the sessions, so that
// routers move traffic at once instead of at hold-time expiry.
func (d *Daemon) stopBGP() {
	if b := d.bgp.Swap(nil); b != nil {
		d.stopBGPRunner(b)
	}
}

func (d *Daemon) stopBGPRunner(b *bgpRunner) {
	ctx, cancel := context.WithTimeout(context.Background(), bgpStopTimeout)
	defer cancel()
	start := time.Now()
	// The worker ends first: nothing of this runner may reach the speaker
	// once it stops and the engine's server serves the next one.
	close(b.quit)
	select {
	case <-b.stopped:
	case <-ctx.Done():
	}
	if err := b.speaker.Stop(ctx); err != nil {
		b.log.Error("stopping the bgp speaker", zap.Error(err))
	}
	b.stop()
	b.log.Info("bgp speaker stopped; routes withdrawn", zap.Duration("took", time.Since(start)))
}

// stop unbinds what bind bound.
func (b *bgpRunner) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.bound {
		if err := b.binder.Remove(p); err != nil {
			b.log.Warn("unbinding", zap.Stringer("prefix", p), zap.Error(err))
		}
	}
	b.bound = nil
	b.binder.Close()
}

// bgpStatus is the speaker's part of the status; nil without a speaker.
func (d *Daemon) bgpStatus() *status.BGPStatus {
	b := d.bgp.Load()
	if b == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st := &status.BGPStatus{Peers: []status.BGPPeerStatus{}, Announced: []string{}}
	peers, err := b.speaker.Peers(ctx)
	if err != nil {
		b.log.Warn("reading bgp sessions", zap.Error(err))
	}
	for _, p := range peers {
		ps := status.BGPPeerStatus{Name: p.Name, Address: p.Address, ASN: p.ASN, State: p.State,
			Established: p.Established, Advertised: p.Advertised}
		if !p.Since.IsZero() {
			ps.UpSince = p.Since.UTC().Format(time.RFC3339)
		}
		st.Peers = append(st.Peers, ps)
	}
	for _, p := range b.speaker.Announced() {
		st.Announced = append(st.Announced, p.String())
	}
	return st
}

// stateNamed is the state whose String is name (Init for anything else).
func stateNamed(name string) vrrp.State {
	for _, s := range []vrrp.State{vrrp.Backup, vrrp.Master, vrrp.Fault} {
		if s.String() == name {
			return s
		}
	}
	return vrrp.Init
}

// allHealthy reports whether every tracked check has passed (a check with
// no result yet counts as failing).
func (d *Daemon) allHealthy(tracks []health.Track) bool {
	for _, tc := range tracks {
		if ok, known := d.health.Healthy(tc.Check); !ok || !known {
			return false
		}
	}
	return true
}
