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
	"github.com/hasidecar/hasidecar/host/instance"
	"github.com/hasidecar/hasidecar/host/systemd"
	"github.com/hasidecar/hasidecar/host/vrrp"
)

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
		if d.ctx != nil && d.ctx.Err() != nil {
			return errors.New("the daemon is stopping")
		}
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
		if t, ok := byKey[instanceKey{ic.Interface, ic.VRID, isIPv6(ic)}]; ok && !needsReplacing(t.ic, ic) && !t.noSource {
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
	d.log.Info("configuration reloaded", zap.String("config", path),
		zap.Int("instances_kept", len(keep)), zap.Int("instances_started", len(fresh)))
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
