package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/host/status"
)

// TestStatusTableTimes: the table says when each instance last moved and
// how long ago, prints every time with its zone, and shows a timed-out
// check's latency as the time it took, never 0.0ms.
func TestStatusTableTimes(t *testing.T) {
	zone := time.FixedZone("", 2*3600)
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, zone)
	st := &status.Status{NodeName: "n1",
		Instances: []status.InstanceStatus{
			{Name: "VI_1", State: "MASTER", Priority: 150, EffectivePriority: 150, VirtualRouterID: 51, Interface: "eth0",
				VirtualIPs: []string{"198.51.100.100/24"}, MasterAddress: "198.51.100.1", Transitions: 2,
				LastReason:     "master 198.51.100.2 advertises priority 100, below our 150: preempting after Master_Down_Interval (3.41s)",
				LastTransition: now.Add(-192*time.Second - 400*time.Millisecond).UTC(),
				Conflicts: []status.ConflictStatus{{Kind: "addresses", Peer: "198.51.100.2", Message: "other VIPs", Count: 3,
					LastSeen: now.Add(-time.Second).UTC(), Active: true}}},
			{Name: "VI_2", State: "BACKUP", Priority: 100, EffectivePriority: 1, VirtualRouterID: 52, Interface: "eth0",
				VirtualIPs: []string{"198.51.100.101/24"}, Transitions: 1,
				LastTransition: time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC),
				Maintenance:    &status.MaintenanceStatus{Reason: "kernel upgrade", Since: time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)}},
			{Name: "VI_3", State: "INIT", Priority: 100, VirtualRouterID: 53, Interface: "eth0", VirtualIPs: []string{"198.51.100.102/24"}},
		},
		Checks: []status.CheckStatus{
			{Name: "nginx", Plugin: "httpget", Healthy: false, LastMessage: "timed out after 80ms", LastLatencyMS: 80.4, ConsecutiveFailures: 3},
			{Name: "old", Plugin: "tcp", Healthy: false, LastMessage: "plugin tcp is restarting"},
		},
		BGP: &status.BGPStatus{Peers: []status.BGPPeerStatus{{Name: "tor1", Address: "198.51.100.254", ASN: 65000,
			State: "ESTABLISHED", Established: true, UpSince: "2026-12-02T07:00:00Z"}}}}
	var b bytes.Buffer
	if err := writeTableAt(&b, st, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"TRANSITIONS  SINCE",
		"09:26:47 +02:00 (3m12s ago)",
		"2026-12-01 01:00:00 +02:00 (32h30m0s ago)",
		"maintenance since 2026-12-01 01:00:00 +02:00: kernel upgrade",
		"last 09:29:59 +02:00): other VIPs",
		"80.4ms",
		"ESTABLISHED  09:00:00 +02:00 (30m0s ago)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "0.0ms") {
		t.Errorf("a latency of 0.0ms:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "VI_3") && !strings.Contains(line, " - ") {
			t.Errorf("an instance that never moved: %q, want - as SINCE", line)
		}
		if strings.HasPrefix(line, "old ") && !strings.Contains(line, "false    -") {
			t.Errorf("a check without latency: %q, want -", line)
		}
	}
}
