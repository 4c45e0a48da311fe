package e2e

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// nginxCheck is an httpget check of the local nginx that takes 60 off the
// priority while it fails: the master (150) drops below the backup (100).
func nginxCheck(every time.Duration, fall int) (checks, track string) {
	checks = fmt.Sprintf(`
check "nginx" {
  plugin   = "httpget"
  interval = %q
  timeout  = %q
  rise     = 2
  fall     = %d
  config {
    url         = "http://127.0.0.1/healthz"
    status_code = [200]
  }
}
`, every.String(), (every * 8 / 10).String(), fall)
	track = "  track_check \"nginx\" { weight = -60 }\n"
	return checks, track
}

// nginxPair runs nginx and hasidecar (with an httpget check of the local
// nginx) on two nodes; node 1 has the higher priority.
func nginxPair(t *testing.T, preempt bool, fall int) (*netlab.Lab, []*netlab.Nginx, []*daemon) {
	netlab.RequireRoot(t)
	netlab.RequireNginx(t)
	lab := netlab.New(t, 2)
	checks, track := nginxCheck(100*time.Millisecond, fall)
	var webs []*netlab.Nginx
	var ds []*daemon
	for i, n := range lab.Nodes {
		webs = append(webs, n.StartNginx(t))
		ds = append(ds, startHasidecar(t, lab, n, nodeConfig{
			Priority: []int{150, 100}[i], Preempt: preempt, Checks: checks, InstanceExtra: track,
		}))
		if i == 0 { // node 1 wins the first election, also without preemption
			waitSoleHolder(t, lab, n, 10*time.Second)
		}
	}
	time.Sleep(500 * time.Millisecond)
	waitSoleHolder(t, lab, lab.Nodes[0], 10*time.Second)
	return lab, webs, ds
}

func TestNginxDeathMovesTheVIP(t *testing.T) {
	for _, preempt := range []bool{true, false} {
		t.Run(fmt.Sprintf("preempt=%v", preempt), func(t *testing.T) {
			t.Parallel()
			lab, webs, ds := nginxPair(t, preempt, 2)
			n1, n2 := lab.Nodes[0], lab.Nodes[1]
			url := "http://" + vip.Addr().String() + "/"
			client := lab.Client.StartHTTPProber(t, url, 10*time.Millisecond)
			time.Sleep(500 * time.Millisecond)
			if s := client.Stats(); s.LastBody != n1.Name {
				t.Fatalf("client not served by the master: %v", s)
			}

			webs[0].Kill(t)
			took := waitSoleHolder(t, lab, n2, 5*time.Second)
			t.Logf("VIP on %s %v after nginx died on %s", n2.Name, took, n1.Name)
			waitServedBy(t, client, n2.Name, 5*time.Second)
			st := ds[0].status(t)
			if st.Instances[0].EffectivePriority != 90 || st.Checks[0].Healthy || st.Checks[0].ConsecutiveFailures < 2 {
				t.Errorf("master's status after nginx died: %+v %+v", st.Instances[0], st.Checks[0])
			}
			if len(st.Instances[0].Tracks) != 1 || st.Instances[0].Tracks[0].Applied != -60 {
				t.Errorf("status does not say which check moved the priority: %+v", st.Instances[0].Tracks)
			}

			webs[0].Restart(t)
			if preempt {
				took = waitSoleHolder(t, lab, n1, 5*time.Second)
				t.Logf("VIP back on %s %v after nginx returned", n1.Name, took)
				waitServedBy(t, client, n1.Name, 5*time.Second)
			} else {
				time.Sleep(2 * time.Second)
				holdsSteady(t, lab, n2, time.Second)
			}
			s := client.Stop()
			t.Logf("client: %v", s)
			if s.LongestGap > 3*time.Second {
				t.Errorf("client outage %v", s.LongestGap)
			}
		})
	}
}

func TestPluginRestartCausesNoTransition(t *testing.T) {
	t.Parallel()
	// fall × interval = 1s: the window a plugin restart must fit in.
	lab, _, ds := nginxPair(t, true, 10)
	n1 := lab.Nodes[0]
	holdsSteady(t, lab, n1, time.Second)
	before := ds[0].status(t)

	plugins := ds[0].proc.Children()
	if len(plugins) == 0 {
		t.Fatal("no plugin process under hasidecar")
	}
	for _, pid := range plugins {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	// Restarted: new plugin processes, the check healthy again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		now := ds[0].proc.Children()
		if len(now) > 0 && !slices.Contains(now, plugins[0]) {
			if st := ds[0].status(t); st.Checks[0].Healthy && st.Checks[0].ConsecutiveFailures == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin not restarted or check not healthy again: children %v, status %+v", now, ds[0].status(t).Checks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	holdsSteady(t, lab, n1, time.Second)
	after := ds[0].status(t)
	if after.Instances[0].Transitions != before.Instances[0].Transitions || after.Instances[0].State != "MASTER" {
		t.Errorf("a plugin restart caused a VRRP transition: before %+v after %+v", before.Instances[0], after.Instances[0])
	}
}

func waitServedBy(t *testing.T, p *netlab.HTTPProber, node string, timeout time.Duration) {
	t.Helper()
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if p.Stats().LastBody == node {
			return
		}
	}
	t.Fatalf("client not served by %s: %v", node, p.Stats())
}

// TestMetricsAreScraped scrapes a real daemon's /metrics from inside its
// namespace while it is master with a healthy nginx check, after one plugin
// restart.
func TestMetricsAreScraped(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireNginx(t)
	t.Parallel()
	lab := netlab.New(t, 1)
	n := lab.Nodes[0]
	n.StartNginx(t)
	checks, track := nginxCheck(100*time.Millisecond, 10)
	d := startHasidecar(t, lab, n, nodeConfig{Priority: 150, Preempt: true,
		Checks: checks + "metrics { listen = \"127.0.0.1:9465\" }\n", InstanceExtra: track})
	waitSoleHolder(t, lab, n, 10*time.Second)
	for _, pid := range d.proc.Children() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	want := []string{
		`hasidecar_instance_state{instance="VI_1",state="MASTER"} 1`,
		`hasidecar_instance_effective_priority{instance="VI_1"} 150`,
		`hasidecar_check_healthy{check="nginx",plugin="httpget"} 1`,
		`hasidecar_plugin_restarts_total{plugin="httpget"} 1`,
		`hasidecar_check_latency_seconds_count{check="nginx"}`,
		`hasidecar_adverts_sent_total{instance="VI_1"}`,
	}
	var body string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		_, b, err := n.HTTPGet("http://127.0.0.1:9465/metrics", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		body = b
		missing := false
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = true
			}
		}
		if !missing {
			return
		}
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("scrape lacks %s", w)
		}
	}
}
