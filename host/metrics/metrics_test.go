package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/host/status"
)

type fakeDaemon struct{}

func (fakeDaemon) Status() status.Status {
	return status.Status{
		NodeName: "n1",
		Instances: []status.InstanceStatus{{Name: "VI_1", State: "MASTER", Priority: 150, EffectivePriority: 90,
			Transitions: 3, AdvertsSent: 42, AdvertsRecv: 7, Dropped: map[string]uint64{"bad checksum": 5}}},
		Checks: []status.CheckStatus{{Name: "nginx", Plugin: "httpget", Healthy: false, ConsecutiveFailures: 2}},
	}
}
func (fakeDaemon) PluginRestarts() map[string]int   { return map[string]int{"httpget": 1} }
func (fakeDaemon) CheckFailures() map[string]uint64 { return map[string]uint64{"nginx": 9} }

func TestScrape(t *testing.T) {
	e := New(fakeDaemon{})
	e.ObserveCheck("nginx", 3*time.Millisecond)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, want := range []string{
		`hasidecar_instance_state{instance="VI_1",state="MASTER"} 1`,
		`hasidecar_instance_state{instance="VI_1",state="BACKUP"} 0`,
		`hasidecar_instance_priority{instance="VI_1"} 150`,
		`hasidecar_instance_effective_priority{instance="VI_1"} 90`,
		`hasidecar_instance_transitions_total{instance="VI_1"} 3`,
		`hasidecar_adverts_sent_total{instance="VI_1"} 42`,
		`hasidecar_adverts_received_total{instance="VI_1"} 7`,
		`hasidecar_adverts_dropped_total{instance="VI_1",reason="bad checksum"} 5`,
		`hasidecar_check_healthy{check="nginx",plugin="httpget"} 0`,
		`hasidecar_check_consecutive_failures{check="nginx"} 2`,
		`hasidecar_check_failures_total{check="nginx"} 9`,
		`hasidecar_check_latency_seconds_bucket{check="nginx",le="0.005"} 1`,
		`hasidecar_plugin_restarts_total{plugin="httpget"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
