package daemon

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/checkspec"
	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/health"
	"github.com/hasidecar/hasidecar/host/plugin"
	"github.com/hasidecar/hasidecar/host/systemd"
	"github.com/hasidecar/hasidecar/host/vrrp"
)

// What instances follow: the checks (their plugins and the scheduler), the
// links, and the systemd watchdog fed while every instance loop answers.

// checkSpecs turns resolved checks into the scheduler's specs.
func checkSpecs(resolved []checkspec.Resolved) []health.CheckSpec {
	var specs []health.CheckSpec
	for _, c := range resolved {
		specs = append(specs, health.CheckSpec{Name: c.Name, Plugin: c.Plugin, Interval: c.Interval,
			Timeout: c.Timeout, Rise: c.Rise, Fall: c.Fall, Config: string(c.JSON)})
	}
	return specs
}

// configureChecks carries out a plan's checks: it hands the plugins every
// check whose configuration is new or changed, tells them to forget the
// ones that went, and stops the plugins no check uses any more.
func (d *Daemon) configureChecks(ctx context.Context, p checkPlan, resolved []checkspec.Resolved) error {
	for _, step := range p.configure {
		c := step.check
		pds, err := d.plugins.Configure(ctx, c.Plugin, c.Name, c.JSON)
		if err != nil {
			return fmt.Errorf("check %s: configuring plugin %s: %w", c.Name, c.Plugin, err)
		}
		if pds.HasErrors() {
			return &DiagnosticsError{Diags: checkspec.PluginDiagnostics(c.Config, pds, c.Plugin)}
		}
		// Only now that the new plugin took the check: a rejected reload
		// leaves the old plugin serving it.
		if step.movedFrom != "" {
			_ = d.plugins.Remove(ctx, step.movedFrom, c.Name)
		}
	}
	for _, gone := range p.forget {
		_ = d.plugins.Remove(ctx, gone.plugin, gone.name)
	}
	for _, name := range unusedPlugins(d.plugins.Running(), resolved) {
		d.log.Info("stopping plugin no check uses", zap.String("plugin", name))
		d.plugins.Stop(name)
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
	if err := d.configureChecks(ctx, planChecks(nil, resolved), resolved); err != nil {
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
		d.kickBGP()
		for _, t := range d.current() {
			_, checks, _, _ := d.view(t)
			if slices.ContainsFunc(checks, func(tr health.Track) bool { return tr.Check == ch.Check }) {
				d.applyHealth(ctx, t)
			}
		}
	}
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
// the previous watcher when the set changed, or always with force (new
// runners must hear of a link that is down). A new watcher first reports
// every link's current state, which is harmless for runners that knew it.
func (d *Daemon) restartLinkWatchLocked(force bool) error {
	var names []string
	for _, t := range d.runners {
		for _, n := range t.links {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	if !force && d.linkCancel != nil && slices.Equal(names, d.linkNames) {
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
	events, err := d.host.watchLinks(ctx, names, d.log)
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
