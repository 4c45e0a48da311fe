package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
