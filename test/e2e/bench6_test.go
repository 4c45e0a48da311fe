//go:build bench

package e2e

import (
	"net/netip"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// masterDropOutage6 is masterDropOutage over IPv6: the pair elects over
// ff02::12, the client pings the IPv6 VIP every 10 ms, and the new master's
// unsolicited neighbour advertisements move its neighbour cache.
func masterDropOutage6(t *testing.T, useKeepalived bool, every time.Duration) time.Duration {
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	c1 := nodeConfig{Priority: 150, Preempt: true, AdvertInterval: every, VIPs: []netip.Prefix{vip6}}
	c2 := c1
	c2.Priority = 100
	if useKeepalived {
		keepalivedPeer(t, lab, n1, c1)
		keepalivedPeer(t, lab, n2, c2)
	} else {
		startHasidecar(t, lab, n1, c1)
		startHasidecar(t, lab, n2, c2)
	}
	waitSoleHolderOf(t, lab, vip6.Addr(), n1, 4*every+10*time.Second)
	// Neighbour discovery for the VIP may take a moment on a fresh pair.
	if err := lab.Client.Ping(vip6.Addr(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p := lab.Client.StartPinger(t, vip6.Addr(), 10*time.Millisecond)
	time.Sleep(time.Second)
	if s := p.Stats(); s.Received == 0 {
		t.Fatalf("client gets no reply from the IPv6 VIP before the fault: %+v", s)
	}
	lab.PortDown(t, n1)
	waitSoleHolderOf(t, lab, vip6.Addr(), n2, 20*time.Second)
	before := p.Stats().Received
	for deadline := time.Now().Add(10 * time.Second); p.Stats().Received < before+50 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	s := p.Stop()
	if s.Received < before+50 {
		t.Fatalf("client not served after the failover: %+v", s)
	}
	return s.LongestGap
}

// TestBenchIPv6 runs the IPv6 row alone (make bench runs it within TestBench).
func TestBenchIPv6(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	n := 3 * trials()
	every := 100 * time.Millisecond
	h := medianOf(t, n, "hasidecar-drop6", func(t *testing.T) time.Duration { return masterDropOutage6(t, false, every) })
	k := medianOf(t, n, "keepalived-drop6", func(t *testing.T) time.Duration { return masterDropOutage6(t, true, every) })
	r := durationRow("IPv6 outage on master drop, 100ms adverts", h, k)
	t.Logf("%s: hasidecar %s, keepalived %s, ratio %.2f", r.name, r.hasidecar, r.keepalived, r.ratio)
}
