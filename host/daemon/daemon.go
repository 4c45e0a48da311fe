// Package daemon assembles hasidecar from a loaded configuration: one runner
// per VRRP instance with its socket, address manager and ARP announcer, the
// link watcher that puts instances in FAULT, and the control socket.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/checkspec"
	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/control"
	"github.com/hasidecar/hasidecar/host/garp"
	"github.com/hasidecar/hasidecar/host/health"
	"github.com/hasidecar/hasidecar/host/instance"
	"github.com/hasidecar/hasidecar/host/linkwatch"
	"github.com/hasidecar/hasidecar/host/metrics"
	"github.com/hasidecar/hasidecar/host/notify"
	"github.com/hasidecar/hasidecar/host/plugin"
	"github.com/hasidecar/hasidecar/host/systemd"
	"github.com/hasidecar/hasidecar/host/vip"
	"github.com/hasidecar/hasidecar/host/vrrp"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// Daemon is a running hasidecar.
type Daemon struct {
	cfg     *config.Config
	log     *zap.Logger
	runners []*tracked
	plugins *plugin.Manager
	health  *health.Scheduler // nil without checks
	metrics *metrics.Exporter
}

// tracked is a runner with the interfaces whose link state it follows and the
// checks that move its priority.
type tracked struct {
	*instance.Runner
	name   string
	notify string // notify script, or ""
	base   uint8
	links  []string
	checks []health.Track
}

// DiagnosticsError is a configuration rejected with HCL diagnostics (a check's
// config that its plugin refuses); the command prints them with file:line:col.
type DiagnosticsError struct{ Diags hcl.Diagnostics }

func (e *DiagnosticsError) Error() string { return e.Diags.Error() }

// Run starts everything the configuration describes and blocks until ctx
// ends; then every master resigns and removes its addresses before Run
// returns. A setup error (a missing interface, a socket that cannot be
// opened) stops everything already started and is returned.
func Run(ctx context.Context, cfg *config.Config, log *zap.Logger) (err error) {
	d := &Daemon{cfg: cfg, log: log}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()

	for _, ic := range cfg.Instances {
		r, closeFn, err := d.newRunner(ctx, ic)
		if err != nil {
			return err
		}
		closers = append(closers, closeFn)
		d.runners = append(d.runners, r)
	}

	if len(cfg.Checks) > 0 {
		d.plugins = plugin.NewManager(plugin.Options{Dir: cfg.PluginDir, Log: log, Pins: cfg.PluginPins})
		defer d.plugins.Close()
	}
	d.metrics = metrics.New(d)
	if err := d.startChecks(ctx); err != nil {
		return err
	}

	l, err := control.Listen(cfg.Control.Socket)
	if err != nil {
		return err
	}
	var metricsL net.Listener
	if cfg.Metrics != nil {
		if metricsL, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			l.Close()
			return fmt.Errorf("metrics: listening on %s: %w", cfg.Metrics.Listen, err)
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(d.runners)+4)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := control.Serve(ctx, l, d, log); err != nil {
			errs <- err
		}
	}()

	if metricsL != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.metrics.Serve(ctx, metricsL); err != nil {
				errs <- err
			}
		}()
		log.Info("serving metrics", zap.String("listen", metricsL.Addr().String()))
	}

	if err := d.watchLinks(ctx, &wg); err != nil {
		cancel()
		wg.Wait()
		return err
	}
	d.followHealth(ctx, &wg)

	notifiers := d.startNotifiers(&wg)
	defer notifiers()

	for _, r := range d.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	log.Info("hasidecar running", zap.String("node", cfg.NodeName),
		zap.Int("instances", len(d.runners)), zap.String("control_socket", cfg.Control.Socket))
	if _, err := systemd.Notify("READY=1"); err != nil {
		log.Warn("telling systemd we are ready", zap.Error(err))
	}
	if every := systemd.WatchdogInterval(); every > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.feedWatchdog(ctx, every)
		}()
	}

	<-ctx.Done()
	_, _ = systemd.Notify("STOPPING=1")
	wg.Wait()
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	return errors.Join(all...)
}

func (d *Daemon) newRunner(ctx context.Context, ic config.Instance) (*tracked, func(), error) {
	conn, err := vrrpconn.Open(ctx, vrrpconn.Options{
		Interface: ic.Interface,
		Source:    ic.UnicastSource,
		Multicast: len(ic.UnicastPeers) == 0,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("instance %s: %w", ic.Name, err)
	}
	addrs, err := vip.New(ic.Interface, d.log)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("instance %s: %w", ic.Name, err)
	}
	ann, err := garp.NewAnnouncer(ic.Interface)
	if err != nil {
		conn.Close()
		addrs.Close()
		return nil, nil, fmt.Errorf("instance %s: %w", ic.Name, err)
	}
	r, err := instance.New(instance.Spec{
		Name:                       ic.Name,
		Interface:                  ic.Interface,
		VRID:                       ic.VRID,
		Priority:                   ic.Priority,
		Version:                    ic.Version,
		AdvertInterval:             ic.AdvertInterval,
		Preempt:                    ic.Preempt,
		PreemptDelay:               ic.PreemptDelay,
		VirtualIPs:                 ic.VirtualIPs,
		UnicastPeers:               ic.UnicastPeers,
		AuthPass:                   ic.AuthPass,
		LowerPriorityIsResignation: ic.FastPreempt,
	}, conn, addrs, ann, d.log)
	if err != nil {
		conn.Close()
		addrs.Close()
		ann.Close()
		return nil, nil, err
	}
	// The instance's own interface always counts: VRRP on a dead link is
	// meaningless (keepalived does the same).
	links := []string{ic.Interface}
	for _, name := range ic.TrackInterfaces {
		if name != ic.Interface {
			links = append(links, name)
		}
	}
	closeFn := func() {
		conn.Close()
		addrs.Close()
		ann.Close()
	}
	var checks []health.Track
	for _, tc := range ic.TrackChecks {
		checks = append(checks, health.Track{Check: tc.Check, Weight: tc.Weight})
	}
	return &tracked{Runner: r, name: ic.Name, base: ic.Priority, links: links, checks: checks, notify: ic.Notify}, closeFn, nil
}

// watchLinks raises "link X down" on every instance that follows X while X is
// down, and clears it when X comes back.
func (d *Daemon) watchLinks(ctx context.Context, wg *sync.WaitGroup) error {
	var names []string
	seen := map[string]bool{}
	for _, r := range d.runners {
		for _, n := range r.links {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	events, err := linkwatch.Watch(ctx, names, d.log)
	if err != nil {
		return fmt.Errorf("watching links %v: %w", names, err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range events {
			reason := "link " + ev.Interface + " down"
			if ev.Up {
				d.log.Info("link up", zap.String("interface", ev.Interface))
			} else {
				d.log.Warn("link down", zap.String("interface", ev.Interface))
			}
			for _, r := range d.runners {
				for _, n := range r.links {
					if n == ev.Interface {
						r.Deliver(ctx, vrrp.FaultChanged{Reason: reason, Active: !ev.Up})
					}
				}
			}
		}
	}()
	return nil
}

// ValidateChecks checks every check's config with its plugin, as Run does
// before touching the network; `hasidecar validate` uses it.
func ValidateChecks(ctx context.Context, cfg *config.Config, log *zap.Logger) hcl.Diagnostics {
	if len(cfg.Checks) == 0 {
		return nil
	}
	m := plugin.NewManager(plugin.Options{Dir: cfg.PluginDir, Log: log, Pins: cfg.PluginPins})
	defer m.Close()
	_, diags := checkspec.Resolve(ctx, cfg.Checks, m)
	return diags
}

// feedWatchdog pings systemd's watchdog at half its interval, but only while
// every instance's loop answers: a stuck instance must get the daemon
// restarted rather than hold a VIP it no longer defends.
func (d *Daemon) feedWatchdog(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		alive := true
		for _, r := range d.runners {
			actx, cancel := context.WithTimeout(ctx, every/4)
			ok := r.Alive(actx)
			cancel()
			if !ok && ctx.Err() == nil {
				d.log.Error("instance loop not answering; withholding the systemd watchdog ping", zap.String("instance", r.name))
				alive = false
			}
		}
		if alive {
			_, _ = systemd.Notify("WATCHDOG=1")
		}
	}
}

// startNotifiers runs each instance's notify script on its transitions. The
// returned function, called after the runners have stopped, lets the last
// notifications (INIT on shutdown) run before Run returns.
func (d *Daemon) startNotifiers(wg *sync.WaitGroup) (wait func()) {
	ctx, stop := context.WithCancel(context.Background())
	var nwg sync.WaitGroup
	for _, r := range d.runners {
		if r.notify == "" {
			continue
		}
		n := notify.New(r.notify, notify.DefaultTimeout, d.log)
		r.OnTransition(func(t vrrp.Transition, prio uint8) {
			n.Notify(notify.Event{Instance: r.name, State: t.To.String(), Priority: prio})
		})
		nwg.Add(1)
		go func() {
			defer nwg.Done()
			n.Run(ctx)
		}()
	}
	return func() {
		wg.Wait()
		stop()
		nwg.Wait()
	}
}

// startChecks validates every check's config with its plugin, hands the
// plugins their checks and starts the scheduler. It waits (bounded) for each
// check's first result, so that instances start with the priority their
// health gives them.
func (d *Daemon) startChecks(ctx context.Context) error {
	if len(d.cfg.Checks) == 0 {
		return nil
	}
	resolved, diags := checkspec.Resolve(ctx, d.cfg.Checks, d.plugins)
	if diags.HasErrors() {
		return &DiagnosticsError{Diags: diags}
	}
	var specs []health.CheckSpec
	longest := time.Duration(0)
	for _, c := range resolved {
		pds, err := d.plugins.Configure(ctx, c.Plugin, c.Name, c.JSON)
		if err != nil {
			return fmt.Errorf("check %s: configuring plugin %s: %w", c.Name, c.Plugin, err)
		}
		if pds.HasErrors() {
			return &DiagnosticsError{Diags: checkspec.PluginDiagnostics(c.Config, pds, c.Plugin)}
		}
		specs = append(specs, health.CheckSpec{Name: c.Name, Plugin: c.Plugin, Interval: c.Interval,
			Timeout: c.Timeout, Rise: c.Rise, Fall: c.Fall})
		longest = max(longest, c.Timeout)
	}
	d.health = health.NewScheduler(specs, d.plugins, d.log)
	d.health.Observe = d.metrics.ObserveCheck
	go d.health.Run(ctx)
	select {
	case <-d.health.FirstResults():
	case <-time.After(2*longest + time.Second):
		d.log.Warn("not every check reported within its timeout; starting with those unknown counted as failing")
	case <-ctx.Done():
	}
	for _, r := range d.runners {
		d.applyHealth(ctx, r)
	}
	return nil
}

// followHealth moves the priority (or FAULT) of every instance that tracks a
// check whose health changed.
func (d *Daemon) followHealth(ctx context.Context, wg *sync.WaitGroup) {
	if d.health == nil {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ch := range d.health.Changes() {
			for _, r := range d.runners {
				for _, t := range r.checks {
					if t.Check == ch.Check {
						d.applyHealth(ctx, r)
						break
					}
				}
			}
		}
	}()
}

// applyHealth hands an instance its effective priority and the FAULT state of
// each of its weight-0 checks.
func (d *Daemon) applyHealth(ctx context.Context, r *tracked) {
	if len(r.checks) == 0 {
		return
	}
	prio, _, moved := health.Effective(r.base, r.checks, d.health.Healthy)
	r.Deliver(ctx, vrrp.PriorityChanged{Priority: prio})
	for _, m := range moved {
		if m.Weight == 0 {
			r.Deliver(ctx, vrrp.FaultChanged{Reason: "check " + m.Check + " failing", Active: m.Fault})
		}
	}
}

// Status implements control.Handler.
func (d *Daemon) Status() control.Status {
	st := control.Status{NodeName: d.cfg.NodeName, Instances: []control.InstanceStatus{}, Checks: []control.CheckStatus{}}
	for _, r := range d.runners {
		is := r.Status()
		if d.health != nil && len(r.checks) > 0 {
			_, _, moved := health.Effective(r.base, r.checks, d.health.Healthy)
			for _, m := range moved {
				is.Tracks = append(is.Tracks, control.TrackStatus{Check: m.Check, Weight: m.Weight,
					Healthy: m.Healthy, Applied: m.Applied, Fault: m.Fault})
			}
		}
		st.Instances = append(st.Instances, is)
	}
	if d.health != nil {
		st.Checks = d.health.Status()
	}
	return st
}

// PluginRestarts implements metrics.Source.
func (d *Daemon) PluginRestarts() map[string]int {
	out := map[string]int{}
	if d.plugins == nil {
		return out
	}
	for _, c := range d.cfg.Checks {
		out[c.Plugin] = d.plugins.Restarts(c.Plugin)
	}
	return out
}

// CheckFailures implements metrics.Source.
func (d *Daemon) CheckFailures() map[string]uint64 {
	if d.health == nil {
		return nil
	}
	return d.health.Failures()
}

// Reload implements control.Handler.
func (d *Daemon) Reload(context.Context, string) error {
	return errors.New("reload is not supported yet: restart the daemon to apply a new configuration")
}
