package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// maintenance runs `hasidecar maintenance on|off` against d.
func (d *daemon) maintenance(t *testing.T, mode string, extra ...string) string {
	t.Helper()
	args := append([]string{"maintenance", mode, "--socket", d.socket}, extra...)
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("hasidecar %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// stateDir is a top-level state_dir line for a node's configuration.
func stateDir(t *testing.T) string {
	return fmt.Sprintf("state_dir = %q\n", filepath.Join(t.TempDir(), "state"))
}

// TestMaintenanceHandover is a planned handover while a client pings the
// VIP every 10 ms: `maintenance on` moves the VIP to the backup, the node
// stays out of the election across a restart, and `off` brings the VIP
// back. The client must lose (almost) nothing either way.
func TestMaintenanceHandover(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	c1 := nodeConfig{Priority: 150, Preempt: true, Checks: stateDir(t)}
	d1 := startHasidecar(t, lab, n1, c1)
	waitSoleHolder(t, lab, n1, 10*time.Second)
	d2 := startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true, Checks: stateDir(t)})
	time.Sleep(time.Second)

	ping := lab.Client.StartPinger(t, vip.Addr(), 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	out := d1.maintenance(t, "on", "--instance", "VI_1", "--reason", "kernel update")
	// The reply waits for the handover and names the new master.
	if !strings.Contains(out, "VI_1: maintenance on (kernel update)") || !strings.Contains(out, "VI_1: "+n2.Addr.String()+" took over") {
		t.Errorf("maintenance on said:\n%s", out)
	}
	waitSoleHolder(t, lab, n2, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	on := ping.Stop()
	t.Logf("maintenance on: %d/%d replies, longest gap %v", on.Received, on.Sent, on.LongestGap)
	if on.LongestGap > 500*time.Millisecond {
		t.Errorf("maintenance on cost the client %v", on.LongestGap)
	}
	st := d1.status(t).Instances[0]
	if st.State != "BACKUP" || st.Maintenance == nil || st.Maintenance.Reason != "kernel update" || st.EffectivePriority != 1 {
		t.Fatalf("status in maintenance: %+v %+v", st, st.Maintenance)
	}
	since := st.Maintenance.Since
	// A second on without a reason keeps the first; one with a reason
	// replaces it; off where there is no maintenance changes nothing.
	if out := d1.maintenance(t, "on"); !strings.Contains(out, "VI_1: already in maintenance since "+since.UTC().Format(time.RFC3339)+" (kernel update); nothing changed") {
		t.Errorf("maintenance on again said:\n%s", out)
	}
	if out := d1.maintenance(t, "on", "--reason", "disk swap"); !strings.Contains(out, `the reason is now "disk swap" (was "kernel update")`) {
		t.Errorf("maintenance on with a new reason said:\n%s", out)
	}
	if st := d1.status(t).Instances[0]; st.Maintenance == nil || st.Maintenance.Reason != "disk swap" || !st.Maintenance.Since.Equal(since) {
		t.Errorf("after a new reason: %+v", st.Maintenance)
	}
	if out := d2.maintenance(t, "off"); !strings.Contains(out, "VI_1: not in maintenance; nothing changed") {
		t.Errorf("maintenance off of an instance not in maintenance said:\n%s", out)
	}
	if code, table := cliIn(t, "/", "status", "--socket", d1.socket); code != 0 || !strings.Contains(table, "maintenance since") {
		t.Errorf("status table does not show maintenance:\n%s", table)
	}

	// A restart keeps the node out of the election.
	if err := d1.proc.Stop(10 * time.Second); err != nil {
		t.Logf("stopping: %v", err)
	}
	d1.proc = n1.Start(t, binary, "run", "--config", d1.config)
	if err := d1.proc.WaitLog("hasidecar running", 15*time.Second); err != nil {
		t.Fatal(err)
	}
	holdsSteady(t, lab, n2, 2*time.Second)
	st = d1.status(t).Instances[0]
	if st.State != "BACKUP" || st.Maintenance == nil || !st.Maintenance.Since.Equal(since) {
		t.Fatalf("after a restart: %+v %+v (since was %v)", st, st.Maintenance, since)
	}

	// Both nodes in maintenance: nobody takes over from n2, and both say so.
	if out := d2.maintenance(t, "on"); !strings.Contains(out, "VI_1: warning: no other node has taken over") {
		t.Errorf("maintenance on with the other node in maintenance said:\n%s", out)
	}
	holdsSteady(t, lab, n2, time.Second)
	if out := d1.maintenance(t, "on"); !strings.Contains(out, "the master "+n2.Addr.String()+" advertises priority 1 (in maintenance itself)") {
		t.Errorf("maintenance on with the master in maintenance said:\n%s", out)
	}
	d2.maintenance(t, "off")
	holdsSteady(t, lab, n2, time.Second)

	ping = lab.Client.StartPinger(t, vip.Addr(), 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	d1.maintenance(t, "off")
	waitSoleHolder(t, lab, n1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	off := ping.Stop()
	t.Logf("maintenance off: %d/%d replies, longest gap %v", off.Received, off.Sent, off.LongestGap)
	if off.LongestGap > 500*time.Millisecond {
		t.Errorf("maintenance off cost the client %v", off.LongestGap)
	}
	if st := d1.status(t).Instances[0]; st.State != "MASTER" || st.Maintenance != nil {
		t.Fatalf("after off: %+v", st)
	}
	// A handover is no duplicate VIP owner, though both hold the VIP for
	// a moment.
	for _, d := range []*daemon{d1, d2} {
		for _, c := range d.status(t).Instances[0].Conflicts {
			t.Errorf("%s reports a conflict after planned handovers: %+v", d.node.Name, c)
		}
	}
}

// TestMaintenanceRefusals: an unknown instance is named with the ones that
// exist, and nothing changes.
func TestMaintenanceRefusals(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 1)
	d := startHasidecar(t, lab, lab.Nodes[0], nodeConfig{Priority: 150, Preempt: true, Checks: stateDir(t)})
	waitSoleHolder(t, lab, lab.Nodes[0], 10*time.Second)
	code, out := cliIn(t, "/", "maintenance", "on", "--instance", "VI_9", "--socket", d.socket)
	if code != 1 || !strings.Contains(out, `no vrrp_instance "VI_9"; this daemon runs VI_1`) {
		t.Fatalf("unknown instance: exit %d\n%s", code, out)
	}
	if st := d.status(t).Instances[0]; st.Maintenance != nil || st.State != "MASTER" {
		t.Fatalf("a refused request changed the instance: %+v", st)
	}
}

// TestMaintenanceWithKeepalivedBackup: the backup is keepalived, which
// ignores a lower-priority master and takes over when its master-down timer
// runs out; the leaving hasidecar keeps answering until then, so the
// client still loses nothing.
func TestMaintenanceWithKeepalivedBackup(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	d1 := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true, Checks: stateDir(t)})
	waitSoleHolder(t, lab, n1, 10*time.Second)
	keepalivedPeer(t, lab, n2, nodeConfig{Priority: 100, Preempt: true})
	time.Sleep(time.Second)
	holdsSteady(t, lab, n1, 500*time.Millisecond)

	ping := lab.Client.StartPinger(t, vip.Addr(), 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	d1.maintenance(t, "on")
	waitSoleHolder(t, lab, n2, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	on := ping.Stop()
	t.Logf("maintenance on, keepalived backup: %d/%d replies, longest gap %v", on.Received, on.Sent, on.LongestGap)
	if on.LongestGap > 500*time.Millisecond {
		t.Errorf("maintenance on cost the client %v", on.LongestGap)
	}
	holdsSteady(t, lab, n2, time.Second)

	d1.maintenance(t, "off")
	waitSoleHolder(t, lab, n1, 10*time.Second)
}
