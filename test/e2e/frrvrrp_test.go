package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// frrVRRPConfig is vrrpd's configuration for the lab's virtual router on n,
// preempting.
func frrVRRPConfig(n *netlab.Node, version, priority int, interval time.Duration) string {
	return fmt.Sprintf("frr defaults traditional\nhostname %s\ninterface %s\n vrrp 51 version %d\n vrrp 51 priority %d\n vrrp 51 advertisement-interval %d\n vrrp 51 preempt\n vrrp 51 ip %s\n",
		n.Name, n.Iface, version, priority, interval.Milliseconds(), vip.Addr())
}

// TestPairWithFRRVRRPD pairs hasidecar with FRRouting's vrrpd, a second
// VRRP implementation besides keepalived, in VRRPv3 and v2 and in each
// role: one master, the other takes over when the master's port goes down,
// the higher preempts back when it returns, and hasidecar drops nothing
// vrrpd sends.
func TestPairWithFRRVRRPD(t *testing.T) {
	modes := []struct {
		version  int
		interval time.Duration
	}{{3, 100 * time.Millisecond}, {2, time.Second}}
	for _, m := range modes {
		for _, hasidecarHigher := range []bool{true, false} {
			role := "hasidecar master"
			if !hasidecarHigher {
				role = "vrrpd master"
			}
			t.Run(fmt.Sprintf("v%d/%s", m.version, role), func(t *testing.T) {
				netlab.RequireRoot(t)
				netlab.RequireVRRPD(t)
				t.Parallel()
				lab := netlab.New(t, 2)
				hn, fn := lab.Nodes[0], lab.Nodes[1]
				hp, fp := 100, 150
				if hasidecarHigher {
					hp, fp = 150, 100
				}
				d := startHasidecar(t, lab, hn, nodeConfig{Priority: hp, Preempt: true, Version: m.version, AdvertInterval: m.interval})
				fn.AddVRRPMacvlan(t, 51, vip)
				f := fn.StartVRRPD(t, frrVRRPConfig(fn, m.version, fp, m.interval))

				// states waits until hasidecar is in h and vrrpd in v; when
				// hasidecar is MASTER it must hold the VIP, and not otherwise.
				states := func(what, h, v string) {
					t.Helper()
					var gotH, gotV string
					start := time.Now()
					for end := start.Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
						gotH, gotV = d.status(t).Instances[0].State, f.State(t, 51)
						if gotH == h && gotV == v && hn.HasAddress(t, vip.Addr()) == (h == "MASTER") {
							t.Logf("%s: hasidecar %s, vrrpd %s after %v", what, h, v, time.Since(start).Round(time.Millisecond))
							return
						}
					}
					t.Fatalf("%s: hasidecar %s, vrrpd %s; want %s and %s", what, gotH, gotV, h, v)
				}
				// steady checks that the roles hold for a while: no flapping.
				steady := func(h, v string) {
					t.Helper()
					for end := time.Now().Add(2 * m.interval); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
						if gotH, gotV := d.status(t).Instances[0].State, f.State(t, 51); gotH != h || gotV != v {
							t.Fatalf("roles moved: hasidecar %s, vrrpd %s; want %s and %s", gotH, gotV, h, v)
						}
					}
				}

				high, highH, highV := hn, "MASTER", "Backup"
				if !hasidecarHigher {
					high, highH, highV = fn, "BACKUP", "Master"
				}
				states("elected", highH, highV)
				steady(highH, highV)

				lab.PortDown(t, high)
				// The side cut off still thinks itself master, alone; the other
				// must take over.
				start := time.Now()
				for end := start.Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					took := f.State(t, 51) == "Master"
					if !hasidecarHigher {
						took = d.status(t).Instances[0].State == "MASTER" && hn.HasAddress(t, vip.Addr())
					}
					if took {
						t.Logf("takeover after the master's port went down: %v", time.Since(start).Round(time.Millisecond))
						break
					}
					if time.Now().After(end) {
						t.Fatalf("no takeover 10 s after the master's port went down")
					}
				}

				lab.PortUp(t, high)
				states("preempted back", highH, highV)
				steady(highH, highV)

				st := d.status(t).Instances[0]
				if st.AdvertsRecv == 0 {
					t.Errorf("hasidecar accepted no advertisement from vrrpd")
				}
				for reason, n := range st.Dropped {
					t.Errorf("hasidecar dropped %d of vrrpd's packets: %s", n, reason)
				}
			})
		}
	}
}
