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
// not survive a restart), then tells the instances.
func (d *Daemon) Maintenance(ctx context.Context, name string, on bool, reason string) (string, error) {
	if reason == "" {
		reason = "maintenance"
	}
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
		t    *tracked
		name string
	}
	var targets []target
	var known []string
	for _, t := range d.current() {
		_, _, _, n := d.view(t)
		known = append(known, n)
		if name == "" || names[n] {
			targets = append(targets, target{t, n})
		}
	}
	if len(targets) == 0 {
		slices.Sort(known)
		return "", fmt.Errorf("no vrrp_instance %q; this daemon runs %s", name, strings.Join(known, ", "))
	}

	d.maint.mu.Lock()
	next := make(map[string]maintEntry, len(d.maint.entries)+len(targets))
	for k, v := range d.maint.entries {
		next[k] = v
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, tg := range targets {
		if on {
			if e, ok := next[tg.name]; ok {
				next[tg.name] = maintEntry{Reason: reason, Since: e.Since}
			} else {
				next[tg.name] = maintEntry{Reason: reason, Since: now}
			}
		} else {
			delete(next, tg.name)
		}
	}
	if err := saveMaintenance(dir, next); err != nil {
		d.maint.mu.Unlock()
		return "", fmt.Errorf("saving the maintenance state in %s (state_dir): %w; nothing changed", dir, err)
	}
	d.maint.entries = next
	d.maint.mu.Unlock()

	lines := notes
	for _, tg := range targets {
		t := tg.t
		t.Deliver(ctx, vrrp.MaintenanceChanged{Active: on, Reason: reason})
		st := t.Status()
		switch {
		case on && st.State == "MASTER":
			lines = append(lines, fmt.Sprintf("%s: maintenance on (%s): advertising priority %d so that a backup takes over; the VIPs stay here until it does",
				st.Name, reason, vrrp.MaintenancePriority))
		case on:
			lines = append(lines, fmt.Sprintf("%s: maintenance on (%s): %s, out of the election", st.Name, reason, st.State))
		default:
			lines = append(lines, fmt.Sprintf("%s: maintenance off: back in the election with priority %d", st.Name, st.Priority))
		}
		d.log.Info("maintenance changed", zap.String("instance", st.Name), zap.Bool("on", on), zap.String("reason", reason))
	}
	d.kickBGP() // an instance in maintenance is no BGP fallback
	return strings.Join(lines, "\n"), nil
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
