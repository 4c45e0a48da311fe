package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// TestDashboardMetricsExist reads every PromQL expression of the Grafana
// dashboard the package ships and checks that each metric it queries is in
// a real daemon's /metrics. The daemon is put where every series exists: a
// check, a peer with another VRRP version (drops and a conflict), and
// maintenance.
func TestDashboardMetricsExist(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "packaging", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	name := regexp.MustCompile(`\bhasidecar_[a-z0-9_]+`)
	var queried []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				if !slices.Contains(queried, m) {
					queried = append(queried, m)
				}
			}
		}
	}
	if len(queried) < 10 {
		t.Fatalf("the dashboard queries only %v", queried)
	}

	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	top := stateDir(t) + `metrics { listen = "127.0.0.1:9465" }
check "nginx" {
  plugin   = "script"
  interval = "200ms"
  config { command = ["/bin/true"] }
}
`
	d := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true, Checks: top,
		InstanceExtra: "  track_check \"nginx\" { weight = -60 }\n"})
	waitSoleHolder(t, lab, n1, 15*time.Second)
	startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true, Version: 2, AdvertInterval: time.Second})
	d.maintenance(t, "on", "--reason", "dashboard test")

	deadline := time.Now().Add(20 * time.Second)
	for {
		out := n1.Run(t, "curl", "-sf", "http://127.0.0.1:9465/metrics")
		var missing []string
		for _, m := range queried {
			if !regexp.MustCompile(`(?m)^` + m + `[{ ]`).MatchString(out) {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 {
			t.Logf("all %d metrics the dashboard queries are exported: %s", len(queried), strings.Join(queried, ", "))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard queries metrics the daemon does not export: %v\n%s", missing, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
