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
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/bgp"
	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/control"
	"github.com/hasidecar/hasidecar/host/execsafe"
	"github.com/hasidecar/hasidecar/host/health"
	"github.com/hasidecar/hasidecar/host/metrics"
	"github.com/hasidecar/hasidecar/host/plugin"
	"github.com/hasidecar/hasidecar/host/systemd"
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
	host    hostNet       // opens sockets, addresses and link watches (hostnet.go)
	groups  *groups       // the sync groups; nil without any
	maint   maintStore    // instances in maintenance (maintenance.go)
	guards  guardSet      // duplicate VIP detection (vipguard.go)

	bgp       atomic.Pointer[bgpRunner] // nil without a bgp block
	bgpEngine *bgp.Engine               // the GoBGP server, kept across reloads that remove and add the bgp block

	mu         sync.Mutex // guards what follows
	cfg        *config.Config
	runners    []*tracked
	linkCancel context.CancelFunc
	linkNames  []string
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
	d := &Daemon{cfg: cfg, log: log, errs: make(chan error, 16), bgpEngine: bgp.NewEngine(log)}
	d.plugins = plugin.NewManager(plugin.Options{Dir: cfg.PluginDir, Log: log, Pins: cfg.PluginPins})
	d.metrics = metrics.New(d)
	d.host = realHost{sockets: &d.sockets}
	return d
}

// Run starts everything the configuration describes and blocks until ctx
// ends; then every master resigns and removes its addresses before Run
// returns. A setup error (a missing interface, a socket that cannot be
// opened, a check its plugin refuses) stops everything already started and
// is returned.
func (d *Daemon) Run(ctx context.Context) error {
	// The daemon's own lifetime is not the caller's: when the caller's ends
	// (SIGTERM), routes are withdrawn before the instances give up their
	// VIPs, so that no router sends traffic to a node that dropped them.
	stopping := ctx.Done()
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
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
	if err := d.startBGP(ctx, cfg); err != nil {
		d.releaseAll()
		return err
	}
	defer d.stopBGP()

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
	err = d.restartLinkWatchLocked(false)
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
	for _, s := range cfg.Scripts() {
		if err := execsafe.Runnable(s.Path); err != nil {
			d.log.Error("a transition script would not run", zap.String("key", s.Key), zap.String("of", s.Owner), zap.Error(err))
		}
	}
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
	case <-stopping:
	case err := <-d.errs:
		all = append(all, err)
	}
	_, _ = systemd.Notify("STOPPING=1")
	// No reload may start runners or a speaker behind the shutdown: one
	// under way finishes first, later ones are refused.
	d.reloadMu.Lock()
	d.started.Store(false)
	d.reloadMu.Unlock()
	// Routes go first: routers move traffic away while nginx still serves.
	d.stopBGP()
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
