// Package daemon assembles hasidecar from a loaded configuration: one runner
// per VRRP instance with its socket, address manager and ARP announcer, the
// checks and their plugins, the link watcher that puts instances in FAULT,
// notify scripts, metrics and the control socket — and applies a new
// configuration as a diff, without dropping what stays.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	"github.com/hasidecar/hasidecar/host/vmac"
	"github.com/hasidecar/hasidecar/host/vrrp"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// Daemon is a running hasidecar.
type Daemon struct {
	log     *zap.Logger
	plugins *plugin.Manager
	health  *health.Scheduler
	metrics *metrics.Exporter

	ctx  context.Context // the daemon's lifetime, set by Run
	wg   sync.WaitGroup  // every goroutine Run started
	errs chan error      // fatal errors of background parts

	reloadMu sync.Mutex  // one reload at a time
	started  atomic.Bool // Run has started everything; reloads may apply

	sockets sharedSockets // one VRRP socket per interface and mode
	groups  *groups       // the sync groups; nil without any
	maint   maintStore    // instances in maintenance (maintenance.go)
	guards  guardSet      // duplicate VIP detection (vipguard.go)

	mu         sync.Mutex // guards what follows
	cfg        *config.Config
	runners    []*tracked
	linkCancel context.CancelFunc
	linkNames  []string
}

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
}

// DiagnosticsError is a configuration rejected with HCL diagnostics; its
// message is one "file:line:col: error: …" line per diagnostic.
type DiagnosticsError struct{ Diags hcl.Diagnostics }

func (e *DiagnosticsError) Error() string {
	var lines []string
	for _, d := range e.Diags {
		lines = append(lines, config.FormatDiagnostic(d))
	}
	return strings.Join(lines, "\n")
}

// New prepares a daemon for cfg; nothing runs until Run.
func New(cfg *config.Config, log *zap.Logger) *Daemon {
	d := &Daemon{cfg: cfg, log: log, errs: make(chan error, 16)}
	d.plugins = plugin.NewManager(plugin.Options{Dir: cfg.PluginDir, Log: log, Pins: cfg.PluginPins})
	d.metrics = metrics.New(d)
	return d
}

// Run starts everything the configuration describes and blocks until ctx
// ends; then every master resigns and removes its addresses before Run
// returns. A setup error (a missing interface, a socket that cannot be
// opened, a check its plugin refuses) stops everything already started and
// is returned.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.ctx = ctx
	defer d.plugins.Close()
	cfg := d.cfg

	var runners []*tracked
	for _, ic := range cfg.Instances {
		t, err := d.newRunner(ctx, ic)
		if err != nil {
			for _, t := range runners {
				t.release()
			}
			return err
		}
		runners = append(runners, t)
	}
	d.runners = runners
	d.groups = startGroups(ctx, cfg, d.log, d.deliverTo)
	defer d.groups.stop()

	if err := d.startChecks(ctx); err != nil {
		d.releaseAll()
		return err
	}

	l, err := control.ListenGroup(cfg.Control.Socket, cfg.Control.Group)
	if err != nil {
		d.releaseAll()
		return err
	}
	var metricsL net.Listener
	if cfg.Metrics != nil {
		if metricsL, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			l.Close()
			d.releaseAll()
			return fmt.Errorf("metrics: listening on %s: %w", cfg.Metrics.Listen, err)
		}
	}
	d.background(func() error { return control.Serve(ctx, l, d, d.log) })
	if metricsL != nil {
		d.background(func() error { return d.metrics.Serve(ctx, metricsL) })
		d.log.Info("serving metrics", zap.String("listen", metricsL.Addr().String()))
	}

	d.mu.Lock()
	err = d.restartLinkWatchLocked()
	d.mu.Unlock()
	if err != nil {
		cancel()
		d.releaseAll()
		d.wg.Wait()
		return err
	}
	d.background(func() error { d.followHealth(ctx); return nil })

	d.restoreMaintenance()
	for _, t := range runners {
		d.applyHealth(ctx, t)
		d.applyMaintenance(ctx, t)
		d.start(t)
	}
	d.startGuards(ctx)
	d.background(func() error { d.probeVIPs(ctx); return nil })
	d.started.Store(true)
	d.log.Info("hasidecar running", zap.String("node", cfg.NodeName),
		zap.Int("instances", len(runners)), zap.String("control_socket", cfg.Control.Socket))
	if _, err := systemd.Notify("READY=1"); err != nil {
		d.log.Warn("telling systemd we are ready", zap.Error(err))
	}
	if every := systemd.WatchdogInterval(); every > 0 {
		d.background(func() error { d.feedWatchdog(ctx, every); return nil })
	}

	var all []error
	select {
	case <-ctx.Done():
	case err := <-d.errs:
		all = append(all, err)
	}
	_, _ = systemd.Notify("STOPPING=1")
	cancel()
	d.mu.Lock()
	runners = d.runners
	d.mu.Unlock()
	for _, t := range runners {
		<-t.done
	}
	d.groups.stop()
	d.wg.Wait()
	for {
		select {
		case err := <-d.errs:
			all = append(all, err)
		default:
			return errors.Join(all...)
		}
	}
}

// background runs f for the daemon's lifetime; its error stops the daemon.
func (d *Daemon) background(f func() error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := f(); err != nil {
			d.errs <- err
		}
	}()
}

func (d *Daemon) releaseAll() {
	for _, t := range d.runners {
		t.release()
	}
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

// sharedSockets keeps one VRRP socket per interface, mode and source for all
// the instances that use it (see vrrpconn.Demux).
type sharedSockets struct {
	mu   sync.Mutex
	open map[vrrpconn.Options]*vrrpconn.Demux
}

// join returns an endpoint for vrid on the socket opts describes, opening the
// socket if no instance uses it yet.
func (s *sharedSockets) join(ctx context.Context, opts vrrpconn.Options, vrid uint8) (*vrrpconn.Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if dm := s.open[opts]; dm != nil {
		e, err := dm.Join(vrid)
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, vrrpconn.ErrDemuxClosed) {
			return nil, err
		}
	}
	conn, err := vrrpconn.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	if s.open == nil {
		s.open = map[vrrpconn.Options]*vrrpconn.Demux{}
	}
	dm := vrrpconn.NewDemux(conn)
	s.open[opts] = dm
	return dm.Join(vrid)
}

// newRunner opens an instance's socket, netlink handle and ARP client; the
// runner does not run until start.
func (d *Daemon) newRunner(ctx context.Context, ic config.Instance) (*tracked, error) {
	conn, holdOn, noSource, err := d.joinSocket(ctx, ic)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", ic.Name, err)
	}
	addrs, err := vip.New(holdOn, d.log)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("instance %s: %w", ic.Name, err)
	}
	ann, err := garp.NewAnnouncer(holdOn)
	if err != nil {
		conn.Close()
		addrs.Close()
		return nil, fmt.Errorf("instance %s: %w", ic.Name, err)
	}
	release := func() {
		conn.Close()
		addrs.Close()
		ann.Close()
		// Only when the daemon stops: an instance a reload replaces hands
		// its macvlan on to its successor.
		if holdOn != ic.Interface && d.ctx.Err() != nil {
			if err := vmac.Remove(holdOn); err != nil {
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
	t := &tracked{Runner: r, spec: sp, release: release, done: make(chan struct{})}
	if noSource != "" {
		r.Deliver(ctx, vrrp.FaultChanged{Reason: noSource, Active: true}) // queued for Run
	}
	t.setConfig(ic, d.log)
	r.OnTransition(func(tr vrrp.Transition, prio uint8) {
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

// checkSpecs turns resolved checks into the scheduler's specs.
func checkSpecs(resolved []checkspec.Resolved) []health.CheckSpec {
	var specs []health.CheckSpec
	for _, c := range resolved {
		specs = append(specs, health.CheckSpec{Name: c.Name, Plugin: c.Plugin, Interval: c.Interval,
			Timeout: c.Timeout, Rise: c.Rise, Fall: c.Fall, Config: string(c.JSON)})
	}
	return specs
}

// configureChecks hands the plugins every check whose configuration is new or
// changed, and tells them to forget the ones that went.
func (d *Daemon) configureChecks(ctx context.Context, old []health.CheckSpec, resolved []checkspec.Resolved) error {
	prev := map[string]health.CheckSpec{}
	for _, s := range old {
		prev[s.Name] = s
	}
	next := map[string]bool{}
	for _, c := range resolved {
		next[c.Name] = true
		p, ok := prev[c.Name]
		if ok && p.Plugin == c.Plugin && p.Config == string(c.JSON) {
			continue
		}
		if ok && p.Plugin != c.Plugin {
			_ = d.plugins.Remove(ctx, p.Plugin, c.Name)
		}
		pds, err := d.plugins.Configure(ctx, c.Plugin, c.Name, c.JSON)
		if err != nil {
			return fmt.Errorf("check %s: configuring plugin %s: %w", c.Name, c.Plugin, err)
		}
		if pds.HasErrors() {
			return &DiagnosticsError{Diags: checkspec.PluginDiagnostics(c.Config, pds, c.Plugin)}
		}
	}
	for name, p := range prev {
		if !next[name] {
			_ = d.plugins.Remove(ctx, p.Plugin, name)
		}
	}
	// Plugins no check uses any more are stopped.
	used := map[string]bool{}
	for _, c := range resolved {
		used[c.Plugin] = true
	}
	for _, name := range d.plugins.Running() {
		if !used[name] {
			d.log.Info("stopping plugin no check uses", zap.String("plugin", name))
			d.plugins.Stop(name)
		}
	}
	return nil
}

// startChecks validates every check's config with its plugin, hands the
// plugins their checks and starts the scheduler. It waits (bounded) for each
// check's first result, so that instances start with the priority their
// health gives them.
func (d *Daemon) startChecks(ctx context.Context) error {
	resolved, diags := checkspec.Resolve(ctx, d.cfg.Checks, d.plugins)
	if diags.HasErrors() {
		return &DiagnosticsError{Diags: diags}
	}
	if err := d.configureChecks(ctx, nil, resolved); err != nil {
		return err
	}
	specs := checkSpecs(resolved)
	d.health = health.NewScheduler(specs, d.plugins, d.log)
	d.health.Observe = d.metrics.ObserveCheck
	d.background(func() error { d.health.Run(ctx); return nil })
	longest := time.Duration(0)
	for _, s := range specs {
		longest = max(longest, s.Timeout)
	}
	select {
	case <-d.health.FirstResults():
	case <-time.After(2*longest + time.Second):
		d.log.Warn("not every check reported within its timeout; starting with those unknown counted as failing")
	case <-ctx.Done():
	}
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

// followHealth moves the priority (or FAULT) of every instance that tracks a
// check whose health changed.
func (d *Daemon) followHealth(ctx context.Context) {
	for ch := range d.health.Changes() {
		for _, t := range d.current() {
			_, checks, _, _ := d.view(t)
			if slices.ContainsFunc(checks, func(tr health.Track) bool { return tr.Check == ch.Check }) {
				d.applyHealth(ctx, t)
			}
		}
	}
}

// current returns the runners now (a reload may change the list).
func (d *Daemon) current() []*tracked {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.runners)
}

// applyHealth hands an instance its effective priority and the FAULT state of
// each of its weight-0 checks.
func (d *Daemon) applyHealth(ctx context.Context, t *tracked) {
	base, checks, _, name := d.view(t)
	prio, _, moved := health.Effective(base, checks, d.health.Healthy)
	t.Deliver(ctx, vrrp.PriorityChanged{Priority: prio})
	for _, m := range moved {
		if m.Weight == 0 {
			t.Deliver(ctx, vrrp.FaultChanged{Reason: "check " + m.Check + " failing", Active: m.Fault})
			d.groups.ownFault(name, "check "+m.Check+" failing", m.Fault)
		}
	}
}

// restartLinkWatchLocked watches the links every runner follows, replacing
// the previous watcher when the set changed. A new watcher first reports every
// link's current state, which is harmless for runners that knew it.
func (d *Daemon) restartLinkWatchLocked() error {
	var names []string
	for _, t := range d.runners {
		for _, n := range t.links {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	if d.linkCancel != nil && slices.Equal(names, d.linkNames) {
		return nil
	}
	if d.linkCancel != nil {
		d.linkCancel()
		d.linkCancel = nil
	}
	d.linkNames = names
	if len(names) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(d.ctx)
	events, err := linkwatch.Watch(ctx, names, d.log)
	if err != nil {
		cancel()
		return fmt.Errorf("watching links %v: %w", names, err)
	}
	d.linkCancel = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for ev := range events {
			reason := "link " + ev.Interface + " down"
			if ev.Up {
				d.log.Info("link up", zap.String("interface", ev.Interface))
			} else {
				d.log.Warn("link down", zap.String("interface", ev.Interface))
			}
			for _, t := range d.current() {
				if _, _, links, name := d.view(t); slices.Contains(links, ev.Interface) {
					t.Deliver(ctx, vrrp.FaultChanged{Reason: reason, Active: !ev.Up})
					d.groups.ownFault(name, reason, !ev.Up)
				}
			}
		}
	}()
	return nil
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
		for _, t := range d.current() {
			actx, cancel := context.WithTimeout(ctx, every/4)
			ok := t.Alive(actx)
			cancel()
			if !ok && ctx.Err() == nil {
				_, _, _, name := d.view(t)
				d.log.Error("instance loop not answering; withholding the systemd watchdog ping", zap.String("instance", name))
				alive = false
			}
		}
		if alive {
			_, _ = systemd.Notify("WATCHDOG=1")
		}
	}
}

// Status implements control.Handler.
func (d *Daemon) Status() control.Status {
	d.mu.Lock()
	node, path := d.cfg.NodeName, d.cfg.Path
	d.mu.Unlock()
	st := control.Status{NodeName: node, ConfigPath: path, Instances: []control.InstanceStatus{}, Checks: []control.CheckStatus{}}
	for _, t := range d.current() {
		is := t.Status()
		base, checks, _, _ := d.view(t)
		if d.health != nil && len(checks) > 0 {
			_, _, moved := health.Effective(base, checks, d.health.Healthy)
			for _, m := range moved {
				is.Tracks = append(is.Tracks, control.TrackStatus{Check: m.Check, Weight: m.Weight,
					Healthy: m.Healthy, Applied: m.Applied, Fault: m.Fault})
			}
		}
		st.Instances = append(st.Instances, is)
		d.mu.Lock()
		ic := t.ic
		d.mu.Unlock()
		st.Warnings = append(st.Warnings, config.WeightWarnings(ic, is.MasterAddress, is.MasterPriority)...)
	}
	if d.health != nil {
		st.Checks = d.health.Status()
	}
	d.maintenanceStatus(&st)
	return st
}

// PluginRestarts implements metrics.Source.
func (d *Daemon) PluginRestarts() map[string]int {
	out := map[string]int{}
	d.mu.Lock()
	checks := d.cfg.Checks
	d.mu.Unlock()
	for _, c := range checks {
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

// instanceKey identifies a virtual router across reloads.
type instanceKey struct {
	iface string
	vrid  uint8
	ipv6  bool // an IPv4 and an IPv6 instance may share a VRID
}

// Reload implements control.Handler: it loads path and applies it as a diff.
// An invalid file changes nothing. Instances are matched by interface and
// VRID and keep their state (a master's unchanged VIPs are never removed);
// new instances start in BACKUP; removed ones resign with priority 0; checks
// are added, changed and removed, unchanged ones keep their health. A change
// of version, unicast mode, unicast_source or address ownership replaces the
// instance. Settings read once at start (control socket, metrics, plugin
// directory and pins, logging) keep their old values, with a warning.
func (d *Daemon) Reload(ctx context.Context, path string) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	if !d.started.Load() {
		return errors.New("the daemon is still starting; try again")
	}
	_, _ = systemd.Notify("RELOADING=1")
	defer systemd.Notify("READY=1")
	if path == "" {
		d.mu.Lock()
		path = d.cfg.Path // the file the daemon was started with
		d.mu.Unlock()
	}

	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		return &DiagnosticsError{Diags: diags}
	}
	resolved, diags := checkspec.Resolve(ctx, cfg.Checks, d.plugins)
	if diags.HasErrors() {
		return &DiagnosticsError{Diags: diags}
	}
	d.mu.Lock()
	old := d.cfg
	d.mu.Unlock()
	d.warnStatic(old, cfg)

	// Open everything new instances need before changing anything, so that
	// a missing interface rejects the reload as a whole.
	byKey := map[instanceKey]*tracked{}
	for _, t := range d.current() {
		byKey[instanceKey{t.ic.Interface, t.ic.VRID, isIPv6(t.ic)}] = t
	}
	var keep, fresh []*tracked
	var keepICs []config.Instance
	reused := map[*tracked]bool{}
	for _, ic := range cfg.Instances {
		if t, ok := byKey[instanceKey{ic.Interface, ic.VRID, isIPv6(ic)}]; ok && !needsReplacing(t.ic, ic) {
			keep, keepICs = append(keep, t), append(keepICs, ic)
			reused[t] = true
			continue
		}
		t, err := d.newRunner(d.ctx, ic)
		if err != nil {
			for _, f := range fresh {
				f.release()
			}
			return fmt.Errorf("reload rejected, nothing changed: %w", err)
		}
		fresh = append(fresh, t)
	}

	// Checks first, so that kept instances' new weights see their checks.
	if err := d.configureChecks(ctx, d.health.Specs(), resolved); err != nil {
		for _, f := range fresh {
			f.release()
		}
		return fmt.Errorf("reload rejected: %w", err)
	}
	d.health.Update(checkSpecs(resolved))

	// Removed and replaced instances resign first, freeing their VRIDs.
	for _, t := range d.current() {
		if !reused[t] {
			_, _, _, name := d.view(t)
			d.log.Info("instance removed by reload", zap.String("instance", name))
			t.cancel()
			<-t.done
		}
	}
	var errs []error
	for i, t := range keep {
		ic := keepICs[i]
		sp := spec(ic)
		if err := t.Reconfigure(ctx, sp); err != nil {
			errs = append(errs, err)
			continue
		}
		d.mu.Lock()
		t.spec = sp
		n := t.setConfig(ic, d.log)
		d.mu.Unlock()
		if n != nil {
			t.startNotifier(n)
		}
	}
	d.mu.Lock()
	d.cfg = cfg
	d.runners = append(keep, fresh...)
	err := d.restartLinkWatchLocked()
	d.mu.Unlock()
	if err != nil {
		errs = append(errs, err)
	}
	for _, t := range keep {
		d.applyHealth(ctx, t)
	}
	for _, t := range fresh {
		d.applyHealth(ctx, t)
		d.applyMaintenance(ctx, t)
		d.start(t)
		d.log.Info("instance added by reload", zap.String("instance", t.ic.Name))
	}
	d.startGuards(d.ctx)
	d.log.Info("configuration reloaded", zap.String("config", path),
		zap.Int("instances_kept", len(keep)), zap.Int("instances_started", len(fresh)))
	return errors.Join(errs...)
}

// needsReplacing reports whether a vrrp_instance changed in a way a running
// instance cannot follow.
func needsReplacing(prev, next config.Instance) bool {
	return instance.NeedsReplacing(spec(prev), spec(next)) || prev.UnicastSource != next.UnicastSource ||
		prev.UseVMAC != next.UseVMAC || isIPv6(prev) != isIPv6(next)
}

// warnStatic warns about settings a reload cannot change.
func (d *Daemon) warnStatic(old, next *config.Config) {
	warn := func(what string) {
		d.log.Warn(what + " changed; it takes effect at the next restart")
	}
	if old.Control != next.Control {
		warn("control socket")
	}
	if (old.Metrics == nil) != (next.Metrics == nil) || (old.Metrics != nil && *old.Metrics != *next.Metrics) {
		warn("metrics listen address")
	}
	if old.PluginDir != next.PluginDir || !mapsEqual(old.PluginPins, next.PluginPins) {
		warn("plugin_dir or plugin pins")
	}
	if old.LogLevel != next.LogLevel || old.LogFormat != next.LogFormat {
		warn("log_level or log_format")
	}
	if groupsChanged(old, next) {
		warn("a sync_group")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
