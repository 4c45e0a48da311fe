package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit we ship,
// with the binary it names replaced by the one built for the tests.
func TestSystemdUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze not found (package systemd) under CI=true")
		}
		t.Skip("systemd-analyze not found")
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "packaging", "hasidecar.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(b), "/usr/bin/hasidecar", binary)
	for _, want := range []string{"Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID", "CAP_NET_ADMIN", "CAP_NET_RAW"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	path := filepath.Join(t.TempDir(), "hasidecar.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	// verify also complains about unrelated units of the machine it runs on;
	// only lines about ours count.
	var ours []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "hasidecar.service") {
			ours = append(ours, line)
		}
	}
	if len(ours) > 0 || (err != nil && len(out) == 0) {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
