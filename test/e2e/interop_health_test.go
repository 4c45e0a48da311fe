package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// flag is a file whose presence a node's health check tests: removing it is
// "the service failed", without nginx in the way.
type flag string

func newFlag(t *testing.T) flag {
	t.Helper()
	dir, err := os.MkdirTemp("", "hasidecar-flag-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := flag(filepath.Join(dir, "healthy"))
	f.set(t, true)
	return f
}

func (f flag) set(t *testing.T, healthy bool) {
	t.Helper()
	if healthy {
		if err := os.WriteFile(string(f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		os.Remove(string(f))
	}
}

// flagCheck tracks f with the script plugin, as fast as keepalived users
// track nginx (rise 1, fall 1), weight -60.
func flagCheck(f flag) (checks, track string) {
	return fmt.Sprintf(`
check "service" {
  plugin   = "script"
  interval = "100ms"
  timeout  = "80ms"
  config { command = ["/usr/bin/test", "-f", %q] }
}
`, string(f)), "  track_check \"service\" { weight = -60 }\n"
}

// TestHealthFailoverWithKeepalived: the master's health fails in a mixed
// pair and the other node takes over, in both directions. hasidecar as the
// backup takes over after Skew_Time once the master advertises a priority
// below its own (fast_preempt); keepalived as the backup waits out its
// Master_Down_Interval. Either way one master remains and the VIP follows.
func TestHealthFailoverWithKeepalived(t *testing.T) {
	for _, hasidecarMaster := range []bool{true, false} {
		name := "keepalived master fails, hasidecar takes over"
		if hasidecarMaster {
			name = "hasidecar master fails, keepalived takes over"
		}
		t.Run(name, func(t *testing.T) {
			netlab.RequireRoot(t)
			netlab.RequireKeepalived(t)
			t.Parallel()
			lab := netlab.New(t, 2)
			hn, kn := lab.Nodes[0], lab.Nodes[1]
			hf, kf := newFlag(t), newFlag(t)
			hc := nodeConfig{Priority: 100, Preempt: true}
			kc := nodeConfig{Priority: 150, Preempt: true}
			master, backup, masterFlag := kn, hn, kf
			if hasidecarMaster {
				hc.Priority, kc.Priority = 150, 100
				master, backup, masterFlag = hn, kn, hf
			}
			hc.Checks, hc.InstanceExtra = flagCheck(hf)
			// Start the master first so that it wins the first election.
			var d *daemon
			startH := func() { d = startHasidecar(t, lab, hn, hc) }
			startK := func() { keepalivedScriptPeer(t, lab, kn, kc, "/usr/bin/test -f "+string(kf)) }
			if hasidecarMaster {
				startH()
				waitSoleHolder(t, lab, hn, 10*time.Second)
				startK()
			} else {
				startK()
				waitSoleHolder(t, lab, kn, 10*time.Second)
				startH()
			}
			holdsSteady(t, lab, master, time.Second)

			masterFlag.set(t, false)
			took := waitSoleHolder(t, lab, backup, 5*time.Second)
			t.Logf("%s holds the VIP %v after the master's check started failing", backup.Name, took)
			holdsSteady(t, lab, backup, time.Second)
			st := d.status(t).Instances[0]
			if hasidecarMaster {
				if st.State != "BACKUP" || st.EffectivePriority != 90 {
					t.Errorf("hasidecar after its check failed: %+v", st)
				}
			} else if st.State != "MASTER" || !strings.Contains(st.LastReason, "below our 100") || !strings.Contains(st.LastReason, "fast_preempt") {
				t.Errorf("hasidecar did not take over early from the failing keepalived master: %+v", st)
			}

			masterFlag.set(t, true)
			took = waitSoleHolder(t, lab, master, 10*time.Second)
			t.Logf("%s preempted back %v after its check passed again", master.Name, took)
			holdsSteady(t, lab, master, time.Second)
			if st := d.status(t).Instances[0]; st.EffectivePriority != st.Priority {
				t.Errorf("priority not restored: %+v", st)
			}
		})
	}
}
