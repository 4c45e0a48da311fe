package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/status"
	"github.com/hasidecar/hasidecar/host/vrrp"
)

// maintenanceFile holds the instances in maintenance, under state_dir, so
// that maintenance survives a restart of the daemon (or of the machine).
const maintenanceFile = "maintenance.json"

// maintEntry is one instance in maintenance.
type maintEntry struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// maintStore is the maintenance state, kept in memory and on disk.
type maintStore struct {
	mu      sync.Mutex
	entries map[string]maintEntry // by instance name
}

// loadMaintenance reads the saved state; a missing file means none.
func loadMaintenance(dir string) (map[string]maintEntry, error) {
	b, err := os.ReadFile(filepath.Join(dir, maintenanceFile))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]maintEntry{}, nil
	}
	if err != nil {
		return nil, err
	}
	var f struct {
		Instances map[string]maintEntry `json:"instances"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w (remove it to clear maintenance)", filepath.Join(dir, maintenanceFile), err)
	}
	if f.Instances == nil {
		f.Instances = map[string]maintEntry{}
	}
	return f.Instances, nil
}

// saveMaintenance writes the state atomically: a crash leaves the old file
// or the new one, never half of one.
func saveMaintenance(dir string, entries map[string]maintEntry) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	b, err := json.MarshalIndent(struct {
		Instances map[string]maintEntry `json:"instances"`
	}{entries}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, maintenanceFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, maintenanceFile))
}

// restoreMaintenance loads the saved state at start. A file that cannot be
// read is logged and ignored: refusing to start would take the VIPs away
// from a cluster that needs this node.
func (d *Daemon) restoreMaintenance() {
	entries, err := loadMaintenance(d.cfg.StateDir)
	if err != nil {
		d.log.Error("reading the saved maintenance state; starting without maintenance", zap.Error(err))
		entries = map[string]maintEntry{}
	}
	d.maint.mu.Lock()
	d.maint.entries = entries
	d.maint.mu.Unlock()
	for name, e := range entries {
		d.log.Warn("instance in maintenance since before this start: it stays out of the election until `hasidecar maintenance off`",
			zap.String("instance", name), zap.String("reason", e.Reason), zap.Time("since", e.Since))
	}
}

// applyMaintenance hands a runner its saved maintenance state; runners
// take it before they start, so an instance in maintenance never wins an
// election on its way up.
func (d *Daemon) applyMaintenance(ctx context.Context, t *tracked) {
	_, _, _, name := d.view(t)
	d.maint.mu.Lock()
	e, ok := d.maint.entries[name]
	d.maint.mu.Unlock()
	if ok {
		t.Deliver(ctx, vrrp.MaintenanceChanged{Active: true, Reason: e.Reason})
	}
}

// Maintenance implements control.MaintenanceHandler: it puts one instance
// (or every one, for an empty name) in or out of maintenance, saves that to
// state_dir first (a state that could not be saved is not applied: it would
// not survive a restart), then tells the instances. A master put in
// maintenance is watched until a backup takes over (or long enough to
// know none will), and the reply says which.
func (d *Daemon) Maintenance(ctx context.Context, name string, on bool, reason string) (string, error) {
	lines, watch, err := d.changeMaintenance(ctx, name, on, reason)
	if err != nil {
		return "", err
	}
	// Not under reloadMu: a reload may run while the VIPs move.
	return strings.Join(append(lines, d.watchHandovers(ctx, watch)...), "\n"), nil
}

// handoverWatch is a master put in maintenance, watched until a backup
// takes over or until is past.
type handoverWatch struct {
	t     *tracked
	until time.Time
}

// changeMaintenance applies a maintenance request and returns the reply's
// lines and the masters to watch.
func (d *Daemon) changeMaintenance(ctx context.Context, name string, on bool, reason string) ([]string, []handoverWatch, error) {
	// One change at a time with reloads, so that a runner a reload rebuilds
	// cannot miss the state saved here.
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.mu.Lock()
	dir := d.cfg.StateDir
	groups := d.cfg.SyncGroups
	d.mu.Unlock()
	// A sync group moves as one: a member alone in maintenance would be
	// held by its partners on both nodes, and nothing would move.
	names := map[string]bool{name: true}
	var notes []string
	for _, g := range groups {
		if name != "" && slices.Contains(g.Instances, name) {
			for _, m := range g.Instances {
				names[m] = true
			}
			if len(g.Instances) > 1 {
				notes = append(notes, fmt.Sprintf("%s is in sync_group %s: all its members (%s) go with it", name, g.Name, strings.Join(g.Instances, ", ")))
			}
		}
	}
	type target struct {
		t      *tracked
		name   string
		change maintChange
	}
	var targets []target
	var known []string
	for _, t := range d.current() {
		_, _, _, n := d.view(t)
		known = append(known, n)
		if name == "" || names[n] {
			targets = append(targets, target{t: t, name: n})
		}
	}
	if len(targets) == 0 {
		slices.Sort(known)
		return nil, nil, fmt.Errorf("no vrrp_instance %q; this daemon runs %s", name, strings.Join(known, ", "))
	}

	d.maint.mu.Lock()
	next := make(map[string]maintEntry, len(d.maint.entries)+len(targets))
	for k, v := range d.maint.entries {
		next[k] = v
	}
	now := time.Now().UTC().Truncate(time.Second)
	changed := false
	for i, tg := range targets {
		prev, was := next[tg.name]
		c := decideMaintenance(prev, was, on, reason, now)
		targets[i].change = c
		if !c.changed {
			continue
		}
		changed = true
		if on {
			next[tg.name] = c.entry
		} else {
			delete(next, tg.name)
		}
	}
	if changed {
		if err := saveMaintenance(dir, next); err != nil {
			d.maint.mu.Unlock()
			return nil, nil, fmt.Errorf("saving the maintenance state in %s (state_dir): %w; nothing changed", dir, err)
		}
		d.maint.entries = next
	}
	d.maint.mu.Unlock()

	lines := notes
	var watch []handoverWatch
	for _, tg := range targets {
		t, c := tg.t, tg.change
		if c.changed {
			t.Deliver(ctx, vrrp.MaintenanceChanged{Active: on, Reason: c.entry.Reason})
			d.log.Info("maintenance changed", zap.String("instance", tg.name), zap.Bool("on", on), zap.String("reason", c.entry.Reason))
		}
		st := t.Status()
		switch {
		case c.said != "":
			lines = append(lines, fmt.Sprintf("%s: %s", st.Name, c.said))
		case on && st.State == "MASTER":
			lines = append(lines, fmt.Sprintf("%s: maintenance on (%s): advertising priority %d so that a backup takes over; the VIPs stay here until it does",
				st.Name, c.entry.Reason, vrrp.MaintenancePriority))
		case on:
			lines = append(lines, fmt.Sprintf("%s: maintenance on (%s): %s, out of the election", st.Name, c.entry.Reason, st.State))
		default:
			lines = append(lines, fmt.Sprintf("%s: maintenance off: back in the election with priority %d", st.Name, st.Priority))
		}
		if !on {
			continue
		}
		if w := peerInMaintenance(st); w != "" {
			lines = append(lines, fmt.Sprintf("%s: %s", st.Name, w))
		}
		if st.State == "MASTER" {
			// A backup with a priority above ours takes over within
			// Master_Down_Interval (under 4 intervals) of our first advert at
			// priority 1, and we leave when we hear it. For an instance
			// already in maintenance that was at Since.
			start := time.Now()
			if c.entry.Since.Before(now) {
				start = c.entry.Since
			}
			watch = append(watch, handoverWatch{t, start.Add(handoverWait(t.spec.AdvertInterval))})
		}
	}
	d.kickBGP() // an instance in maintenance is no BGP fallback
	return lines, watch, nil
}

// handoverWait is how long a master in maintenance waits for a backup to
// take over before saying none will: Master_Down_Interval (at most four
// advert intervals) and a second for the adverts to cross, within the
// control socket's 30 s.
func handoverWait(interval time.Duration) time.Duration {
	return min(4*interval+time.Second, 15*time.Second)
}

// watchHandovers waits for each watched master to become a backup, and
// says who took over, or that nobody did.
func (d *Daemon) watchHandovers(ctx context.Context, watch []handoverWatch) []string {
	var lines []string
	for _, w := range watch {
		st := w.t.Status()
		for st.State == "MASTER" && time.Now().Before(w.until) {
			select {
			case <-ctx.Done():
				return lines
			case <-time.After(50 * time.Millisecond):
			}
			st = w.t.Status()
		}
		lines = append(lines, handoverResult(st))
	}
	return lines
}

// handoverResult says where the VIPs of an instance put in maintenance
// went: to the master it now follows, or nowhere.
func handoverResult(st status.InstanceStatus) string {
	switch {
	case st.State == "MASTER":
		return fmt.Sprintf("%s: warning: no other node has taken over: none with a priority above %d is there (the others are in maintenance, in FAULT or down), so the VIPs stay here until one is",
			st.Name, vrrp.MaintenancePriority)
	case st.MasterAddress != "":
		return fmt.Sprintf("%s: %s took over; the VIPs left this node", st.Name, st.MasterAddress)
	default:
		return fmt.Sprintf("%s: now %s; the VIPs left this node", st.Name, st.State)
	}
}

// peerInMaintenance warns when the master we follow advertises the
// maintenance priority: it stays master only because no other node is
// there to take over, and with this one out of the election none will.
func peerInMaintenance(st status.InstanceStatus) string {
	if st.State != "BACKUP" || st.MasterPriority != vrrp.MaintenancePriority {
		return ""
	}
	return fmt.Sprintf("warning: the master %s advertises priority %d (in maintenance itself); with this node out of the election too, no other node will take over, so the VIPs stay on %s",
		st.MasterAddress, vrrp.MaintenancePriority, st.MasterAddress)
}

// maintChange is what a maintenance request does to one instance.
type maintChange struct {
	entry   maintEntry // its entry while in maintenance (the reason, for off)
	changed bool       // the state or the reason changes
	said    string     // the reply when it says more than the state
}

// decideMaintenance applies a request (on or off, with reason, "" if none
// was given) to an instance's entry (prev, if was in maintenance). A
// second `on` keeps the first reason and time unless it gives a new
// reason; `off` of an instance not in maintenance changes nothing.
func decideMaintenance(prev maintEntry, was, on bool, reason string, now time.Time) maintChange {
	since := prev.Since.UTC().Format(time.RFC3339)
	switch {
	case on && !was:
		if reason == "" {
			reason = "maintenance"
		}
		return maintChange{entry: maintEntry{Reason: reason, Since: now}, changed: true}
	case on && (reason == "" || reason == prev.Reason):
		return maintChange{entry: prev, said: fmt.Sprintf("already in maintenance since %s (%s); nothing changed", since, prev.Reason)}
	case on:
		return maintChange{entry: maintEntry{Reason: reason, Since: prev.Since}, changed: true,
			said: fmt.Sprintf("already in maintenance since %s; the reason is now %q (was %q)", since, reason, prev.Reason)}
	case was:
		return maintChange{entry: prev, changed: true}
	default:
		return maintChange{said: "not in maintenance; nothing changed"}
	}
}

// inMaintenance reports whether instance name is in maintenance.
func (d *Daemon) inMaintenance(name string) bool {
	d.maint.mu.Lock()
	defer d.maint.mu.Unlock()
	_, ok := d.maint.entries[name]
	return ok
}

// maintenanceStatus fills in which instances are in maintenance.
func (d *Daemon) maintenanceStatus(st *status.Status) {
	d.maint.mu.Lock()
	defer d.maint.mu.Unlock()
	for i := range st.Instances {
		if e, ok := d.maint.entries[st.Instances[i].Name]; ok {
			st.Instances[i].Maintenance = &status.MaintenanceStatus{Reason: e.Reason, Since: e.Since}
		}
	}
}
