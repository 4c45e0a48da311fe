package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// TestDemoRunsWithoutATerminal runs `make demo`'s script as CI would: no
// terminal, the binaries built for these tests.
func TestDemoRunsWithoutATerminal(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireNginx(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "scripts", "demo.sh"))
	cmd.Env = append(cmd.Environ(), "BIN="+filepath.Dir(binary))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{
		"node1 won the election", "the client got its first page from node2", "client: served by node2",
		"client: served by node1", "VI_1: maintenance on (demo: kernel update)", "maintenance since",
		"maintenance off: node1 is back", "Done.",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "\033[") {
		t.Error("the demo writes terminal escapes without a terminal")
	}
}
