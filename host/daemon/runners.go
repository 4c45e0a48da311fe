package daemon

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/health"
	"github.com/hasidecar/hasidecar/host/instance"
	"github.com/hasidecar/hasidecar/host/notify"
	"github.com/hasidecar/hasidecar/host/vrrp"
)

// Each instance's runner with its socket, addresses and announcer, and
// what the daemon keeps about it.

// tracked is a runner with what the daemon keeps about it: its configuration,
// the links and checks it follows, its notify script and its lifetime.
type tracked struct {
	*instance.Runner
	ic     config.Instance
	spec   instance.Spec
	links  []string
	checks []health.Track
	notify atomic.Pointer[notify.Notifier] // nil: no notify script

	cancel        context.CancelFunc
	done          chan struct{} // closed once Run returned and everything is closed
	release       func()        // closes socket, netlink handle and ARP client
	startNotifier func(*notify.Notifier)
	noSource      bool   // held in FAULT without a socket (nosource.go); a reload tries again
	vmac          string // the use_vmac macvlan it holds its addresses on; "" without
}

// spec turns a vrrp_instance into the runner's spec.
func spec(ic config.Instance) instance.Spec {
	return instance.Spec{
		Name:                       ic.Name,
		Interface:                  ic.Interface,
		VRID:                       ic.VRID,
		Priority:                   ic.Priority,
		Version:                    ic.Version,
		AdvertInterval:             ic.AdvertInterval,
		Preempt:                    ic.Preempt,
		PreemptDelay:               ic.PreemptDelay,
		VirtualIPs:                 ic.VirtualIPs,
		ExcludedIPs:                ic.ExcludedIPs,
		UnicastPeers:               ic.UnicastPeers,
		AuthPass:                   ic.AuthPass,
		LowerPriorityIsResignation: ic.FastPreempt,
	}
}

// newRunner opens an instance's socket, netlink handle and ARP client; the
// runner does not run until start.
func (d *Daemon) newRunner(ctx context.Context, ic config.Instance) (*tracked, error) {
	conn, holdOn, noSource, err := d.host.joinSocket(ctx, ic)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", ic.Name, err)
	}
	addrs, err := d.host.addresses(holdOn, d.log)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("instance %s: %w", ic.Name, err)
	}
	ann, err := d.host.announcer(holdOn)
	if err != nil {
		conn.Close()
		addrs.Close()
		return nil, fmt.Errorf("instance %s: %w", ic.Name, err)
	}
	vm := ""
	if holdOn != ic.Interface {
		vm = holdOn
	}
	release := func() {
		conn.Close()
		addrs.Close()
		ann.Close()
		// Only when the daemon stops: an instance a reload replaces hands
		// its macvlan on to its successor, and one a reload removes has
		// its macvlan removed by the reload (removeUnheldVMACs).
		if vm != "" && d.ctx.Err() != nil {
			if err := d.host.removeVMAC(vm); err != nil {
				d.log.Warn("removing the virtual MAC interface", zap.Error(err))
			}
		}
	}
	sp := spec(ic)
	r, err := instance.New(sp, conn, addrs, ann, d.log)
	if err != nil {
		release()
		return nil, err
	}
	t := &tracked{Runner: r, spec: sp, release: release, done: make(chan struct{}), vmac: vm}
	if noSource != "" {
		t.noSource = true
		r.Deliver(ctx, vrrp.FaultChanged{Reason: noSource, Active: true}) // queued for Run
	}
	t.setConfig(ic, d.log)
	r.OnTransition(func(tr vrrp.Transition, prio uint8) {
		d.noteState(t, tr.To)
		if n := t.notify.Load(); n != nil {
			n.Notify(notify.Event{Instance: t.Status().Name, State: tr.To.String(), Priority: prio})
		}
		d.groups.transition(t.Status().Name, tr)
	})
	r.OnWantMaster(func(want bool) { d.groups.want(t.Status().Name, want) })
	return t, nil
}

// setConfig records what t follows: its links (its own interface always, as
// keepalived: VRRP on a dead link is meaningless), its checks and its notify
// script. A changed script gets a new notifier, returned so that the caller
// runs it; the old one finishes its queue. Callers hold d.mu once t is
// published.
func (t *tracked) setConfig(ic config.Instance, log *zap.Logger) (started *notify.Notifier) {
	t.ic = ic
	t.links = []string{ic.Interface}
	for _, name := range ic.TrackInterfaces {
		if name != ic.Interface {
			t.links = append(t.links, name)
		}
	}
	t.checks = nil
	for _, tc := range ic.TrackChecks {
		t.checks = append(t.checks, health.Track{Check: tc.Check, Weight: tc.Weight})
	}
	scripts := notify.Scripts{Notify: ic.Notify, Master: ic.NotifyMaster, Backup: ic.NotifyBackup,
		Fault: ic.NotifyFault, Stop: ic.NotifyStop}
	if old := t.notify.Load(); old != nil && old.Scripts().Equal(scripts) {
		return nil
	}
	if scripts.Empty() {
		t.notify.Store(nil)
		return nil
	}
	n := notify.New(scripts, notify.DefaultTimeout, log)
	t.notify.Store(n)
	return n
}

// view is what the daemon's goroutines read of t, under d.mu: Reload
// changes it.
func (d *Daemon) view(t *tracked) (base uint8, checks []health.Track, links []string, name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return t.spec.Priority, t.checks, t.links, t.spec.Name
}

// start runs t until the daemon stops or t is removed; its notify script
// drains its queue (INIT on the way out) before t counts as done.
func (d *Daemon) start(t *tracked) {
	ctx, cancel := context.WithCancel(d.ctx)
	t.cancel = cancel
	nctx, stopNotify := context.WithCancel(context.Background())
	var nwg sync.WaitGroup
	runNotifier := func(n *notify.Notifier) {
		nwg.Add(1)
		go func() {
			defer nwg.Done()
			n.Run(nctx)
		}()
	}
	if n := t.notify.Load(); n != nil {
		runNotifier(n)
	}
	t.startNotifier = runNotifier
	go func() {
		err := t.Run(ctx)
		stopNotify()
		nwg.Wait()
		t.release()
		close(t.done)
		if err != nil && d.ctx.Err() == nil {
			d.errs <- err
		}
	}()
}

// current returns the runners now (a reload may change the list).
func (d *Daemon) current() []*tracked {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.runners)
}
