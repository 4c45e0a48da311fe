package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/checkspec"
	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/health"
	"github.com/hasidecar/hasidecar/host/systemd"
	"github.com/hasidecar/hasidecar/host/vrrp"
)

// Reload implements control.Handler: it loads path and applies it as a diff.
// An invalid file changes nothing. Instances are matched by interface and
// VRID and keep their state (a master's unchanged VIPs are never removed);
// new instances start in BACKUP; removed ones resign with priority 0; checks
// are added, changed and removed, unchanged ones keep their health. A change
// of version, unicast mode, unicast_source or address ownership replaces the
// instance. Settings read once at start (control socket, metrics, plugin
// directory and pins, logging) keep their old values, with a warning. What
// changes is decided by planReload (reloadplan.go); Reload carries it out.
func (d *Daemon) Reload(ctx context.Context, path string) error {
	_, err := d.ReloadWithWarnings(ctx, path)
	return err
}

// ReloadWithWarnings is Reload, and also returns what the operator must
// hear of a reload that went through (a changed virtual_ips that the other
// nodes need too, a setting that waits for a restart); they are logged as
// well. It implements control.WarningReloader.
func (d *Daemon) ReloadWithWarnings(ctx context.Context, path string) ([]string, error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	if !d.started.Load() {
		if d.ctx != nil && d.ctx.Err() != nil {
			return nil, errors.New("the daemon is stopping")
		}
		return nil, errors.New("the daemon is still starting; try again")
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
		return nil, &DiagnosticsError{Diags: diags}
	}
	resolved, diags := checkspec.Resolve(ctx, cfg.Checks, d.plugins)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags}
	}
	d.mu.Lock()
	old := d.cfg
	d.mu.Unlock()
	current := d.current()
	running := make([]runningInstance, len(current))
	for i, t := range current {
		running[i] = runningInstance{ic: t.ic, noSource: t.noSource} // only Reload changes them
	}
	plan := planReload(running, d.health.Specs(), old, cfg, resolved)
	err := d.carryOut(ctx, plan, current, resolved, old, cfg)
	if errors.Is(err, errRejected) {
		return nil, err
	}
	warnings := plan.warnings()
	for _, w := range warnings {
		d.log.Warn(w)
	}
	d.log.Info("configuration reloaded", zap.String("config", path),
		zap.Int("instances_kept", len(plan.kept)), zap.Int("instances_started", len(plan.started)),
		zap.Strings("checks_added", plan.checks.added), zap.Strings("checks_changed", plan.checks.changed),
		zap.Strings("checks_removed", plan.checks.removed))
	return warnings, err
}

// errRejected marks a reload that changed nothing.
var errRejected = errors.New("reload rejected")

// carryOut applies plan to the running instances (current, in the order
// the plan's indices refer to) and the checks.
func (d *Daemon) carryOut(ctx context.Context, plan reloadPlan, current []*tracked, resolved []checkspec.Resolved, old, cfg *config.Config) error {
	// Open everything new instances need before changing anything, so that
	// a missing interface rejects the reload as a whole.
	var fresh []*tracked
	for _, s := range plan.started {
		t, err := d.newRunner(d.ctx, s.ic)
		if err != nil {
			d.dropFresh(fresh, current)
			return fmt.Errorf("%w, nothing changed: %w", errRejected, err)
		}
		fresh = append(fresh, t)
	}

	// Checks first, so that kept instances' new weights see their checks.
	if err := d.configureChecks(ctx, plan.checks, resolved); err != nil {
		d.dropFresh(fresh, current)
		return fmt.Errorf("%w: %w", errRejected, err)
	}
	d.health.Update(checkSpecs(resolved))

	// Removed and replaced instances resign first, freeing their VRIDs.
	why := map[int]string{}
	for _, s := range plan.started {
		if s.replaces >= 0 {
			why[s.replaces] = s.why
		}
	}
	for _, i := range plan.stopped {
		t := current[i]
		_, _, _, name := d.view(t)
		fields := []zap.Field{zap.String("instance", name)}
		if w, ok := why[i]; ok {
			fields = append(fields, zap.String("replaced_because", w))
		}
		d.log.Info("instance removed by reload", fields...)
		t.cancel()
		<-t.done
	}
	var errs []error
	keep := make([]*tracked, 0, len(plan.kept))
	for _, k := range plan.kept {
		t, ic := current[k.from], k.ic
		keep = append(keep, t)
		sp := spec(ic)
		if err := t.Reconfigure(ctx, sp); err != nil {
			errs = append(errs, err)
			continue
		}
		d.mu.Lock()
		t.spec = sp
		oldChecks, oldLinks := t.checks, t.links
		n := t.setConfig(ic, d.log)
		gone := goneFaults(oldChecks, oldLinks, t.checks, t.links)
		d.mu.Unlock()
		if n != nil {
			t.startNotifier(n)
		}
		// A fault whose track the reload removed would otherwise hold the
		// instance (and its group) in FAULT until a restart.
		for _, reason := range gone {
			t.Deliver(ctx, vrrp.FaultChanged{Reason: reason, Active: false})
			d.groups.ownFault(ic.Name, reason, false)
		}
	}
	stopped := make([]*tracked, 0, len(plan.stopped))
	for _, i := range plan.stopped {
		stopped = append(stopped, current[i])
	}
	d.removeUnheldVMACs(stopped, append(slices.Clone(keep), fresh...), "its instance was removed")
	d.mu.Lock()
	d.cfg = cfg
	d.runners = append(keep, fresh...)
	err := d.restartLinkWatchLocked(len(fresh) > 0)
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
		d.groups.rejoin(t.ic.Name) // a rebuilt member stands where its group stands
		d.start(t)
		d.log.Info("instance added by reload", zap.String("instance", t.ic.Name))
	}
	d.startGuards(d.ctx)
	if err := d.reloadBGP(ctx, old, cfg); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// goneFaults lists the fault reasons that tracks no longer in the new set
// could hold: a weight-0 check, or a link, that the reload removed.
func goneFaults(oldChecks []health.Track, oldLinks []string, checks []health.Track, links []string) []string {
	var gone []string
	for _, c := range oldChecks {
		if c.Weight == 0 && !slices.ContainsFunc(checks, func(n health.Track) bool { return n.Check == c.Check && n.Weight == 0 }) {
			gone = append(gone, "check "+c.Check+" failing")
		}
	}
	for _, l := range oldLinks {
		if !slices.Contains(links, l) {
			gone = append(gone, "link "+l+" down")
		}
	}
	return gone
}

// dropFresh closes what a rejected reload opened for its new instances,
// and removes the macvlans it made that no running instance holds.
func (d *Daemon) dropFresh(fresh, current []*tracked) {
	for _, f := range fresh {
		f.release()
	}
	d.removeUnheldVMACs(fresh, current, "the reload that made it was rejected")
}

// removeUnheldVMACs removes the macvlans of gone instances that no instance
// in held holds its addresses on: a successor with use_vmac on the same
// interface and VRID takes its predecessor's over.
func (d *Daemon) removeUnheldVMACs(gone, held []*tracked, because string) {
	inUse := map[string]bool{}
	for _, t := range held {
		inUse[t.vmac] = true
	}
	for _, t := range gone {
		if t.vmac == "" || inUse[t.vmac] {
			continue
		}
		if err := d.host.removeVMAC(t.vmac); err != nil {
			d.log.Warn("removing a virtual MAC interface no instance holds", zap.String("interface", t.vmac), zap.String("because", because), zap.Error(err))
			continue
		}
		d.log.Info("virtual MAC interface removed", zap.String("interface", t.vmac), zap.String("because", because))
	}
}
