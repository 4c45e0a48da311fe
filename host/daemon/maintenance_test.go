package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/host/status"
)

func TestMaintenanceStateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	got, err := loadMaintenance(dir)
	if err != nil || len(got) != 0 {
		t.Fatalf("no file: %v %v", got, err)
	}
	since := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	want := map[string]maintEntry{"VI_1": {Reason: "kernel update", Since: since}}
	if err := saveMaintenance(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err = loadMaintenance(dir)
	if err != nil || len(got) != 1 || got["VI_1"].Reason != "kernel update" || !got["VI_1"].Since.Equal(since) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the atomic write left %d files", len(entries))
	}
	os.WriteFile(filepath.Join(dir, maintenanceFile), []byte("{half"), 0o600)
	if _, err := loadMaintenance(dir); err == nil || !strings.Contains(err.Error(), "remove it to clear maintenance") {
		t.Fatalf("a corrupt file: %v", err)
	}
}

func TestDecideMaintenance(t *testing.T) {
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	since := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	first := maintEntry{Reason: "kernel update", Since: since}
	tests := []struct {
		name    string
		was     bool
		on      bool
		reason  string
		entry   maintEntry
		changed bool
		said    string
	}{
		{"on", false, true, "disk", maintEntry{"disk", now}, true, ""},
		{"on without a reason", false, true, "", maintEntry{"maintenance", now}, true, ""},
		{"on again keeps the first reason", true, true, "", first, false,
			"already in maintenance since 2026-12-02T03:00:00Z (kernel update); nothing changed"},
		{"on again, same reason", true, true, "kernel update", first, false,
			"already in maintenance since 2026-12-02T03:00:00Z (kernel update); nothing changed"},
		{"on again with a new reason replaces it", true, true, "disk", maintEntry{"disk", since}, true,
			`already in maintenance since 2026-12-02T03:00:00Z; the reason is now "disk" (was "kernel update")`},
		{"off", true, false, "", first, true, ""},
		{"off when not in maintenance", false, false, "", maintEntry{}, false, "not in maintenance; nothing changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := maintEntry{}
			if tt.was {
				prev = first
			}
			c := decideMaintenance(prev, tt.was, tt.on, tt.reason, now)
			if c.entry != tt.entry || c.changed != tt.changed || c.said != tt.said {
				t.Errorf("got %+v, want entry %+v changed %v said %q", c, tt.entry, tt.changed, tt.said)
			}
		})
	}
}

func TestMaintenanceWarnings(t *testing.T) {
	backup := status.InstanceStatus{Name: "VI_1", State: "BACKUP", MasterAddress: "198.51.100.2", MasterPriority: 1}
	if w := peerInMaintenance(backup); !strings.Contains(w, "the master 198.51.100.2 advertises priority 1 (in maintenance itself)") ||
		!strings.Contains(w, "no other node will take over") {
		t.Errorf("peer in maintenance: %q", w)
	}
	backup.MasterPriority = 100
	if w := peerInMaintenance(backup); w != "" {
		t.Errorf("a master at 100 warned: %q", w)
	}
	if got := handoverResult(status.InstanceStatus{Name: "VI_1", State: "MASTER"}); !strings.Contains(got, "VI_1: warning: no other node has taken over") ||
		!strings.Contains(got, "the VIPs stay here") {
		t.Errorf("nobody took over: %q", got)
	}
	if got := handoverResult(status.InstanceStatus{Name: "VI_1", State: "BACKUP", MasterAddress: "198.51.100.2"}); got != "VI_1: 198.51.100.2 took over; the VIPs left this node" {
		t.Errorf("handed over: %q", got)
	}
	if handoverWait(time.Second) != 5*time.Second || handoverWait(time.Minute) != 15*time.Second {
		t.Errorf("handoverWait")
	}
}
