package e2e

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// TestReloadOfOneNodeWarnsOfTheSplit adds a VIP on one node of a pair and
// reloads it: the peers now drop each other's adverts (address list
// mismatch, as keepalived does), so `hasidecar reload` must say so and tell
// the operator to reload the other node; once it is, the pair is one again.
func TestReloadOfOneNodeWarnsOfTheSplit(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	c1 := nodeConfig{Priority: 150, Preempt: true}
	d1 := startHasidecar(t, lab, n1, c1)
	waitSoleHolder(t, lab, n1, 10*time.Second)
	d2 := startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true})
	time.Sleep(time.Second)

	// Status says when the master took over, in JSON and in the table.
	if at := d1.status(t).Instances[0].LastTransition; at.IsZero() || time.Since(at) > time.Minute || time.Since(at) < 0 {
		t.Errorf("last_transition %v, want the takeover a few seconds ago", at)
	}
	if out, err := exec.Command(binary, "status", "--config", d1.config, "--json").Output(); err != nil || !strings.Contains(string(out), `"last_transition": "`) {
		t.Errorf("status --json: %v\n%s", err, out)
	}
	if out, err := exec.Command(binary, "status", "--config", d1.config).Output(); err != nil ||
		!strings.Contains(string(out), "SINCE") || !strings.Contains(string(out), "s ago)") {
		t.Errorf("status table: %v\n%s", err, out)
	}

	both := []netip.Prefix{vip, vip2}
	c1.VIPs = both
	d1.write(t, lab, c1)
	code, out := d1.reload(t)
	t.Logf("hasidecar reload on %s:\n%s", n1.Name, out)
	if code != 0 || !strings.Contains(out, "reloaded") {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	for _, want := range []string{"warning: instance VI_1: virtual_ips changed", "both may become master", "reload the other nodes now", "excluded_ips"} {
		if !strings.Contains(out, want) {
			t.Errorf("reload output lacks %q", want)
		}
	}
	if i := strings.Index(out, "reloaded"); i < 0 || i > strings.Index(out, "warning:") {
		t.Errorf("the warning does not follow the line that says it reloaded:\n%s", out)
	}

	// The other node, reloaded with the same list, joins again.
	d2.write(t, lab, nodeConfig{Priority: 100, Preempt: true, VIPs: both})
	if code, out := d2.reload(t); code != 0 || !strings.Contains(out, "virtual_ips changed") {
		t.Fatalf("reload of the backup: exit %d\n%s", code, out)
	}
	waitSoleHolder(t, lab, n1, 10*time.Second)
	holdsSteady(t, lab, n1, time.Second)

	// A reload that changes nothing warns of nothing.
	if code, out := d1.reload(t); code != 0 || strings.Contains(out, "warning") {
		t.Errorf("unchanged reload: exit %d\n%s", code, out)
	}
}
