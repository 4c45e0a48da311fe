//go:build bench

package e2e

import (
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// handoverGaps measures what a client pinging the VIP every 10 ms sees when
// node 1 (the master, 1 s adverts) hands the VIP over on purpose and takes it
// back: with hasidecar, `maintenance on` then `off`; with keepalived, its
// nearest equivalent, stopping keepalived (SIGTERM) then starting it again.
func handoverGaps(t *testing.T, useKeepalived bool) (on, off time.Duration) {
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	c1 := nodeConfig{Priority: 150, Preempt: true, AdvertInterval: time.Second}
	c2 := nodeConfig{Priority: 100, Preempt: true, AdvertInterval: time.Second}
	var leave, back func()
	if useKeepalived {
		p := keepalivedPeer(t, lab, n1, c1)
		keepalivedPeer(t, lab, n2, c2)
		leave = func() { p.Signal(sigterm) }
		back = func() {
			p.Wait()
			keepalivedPeer(t, lab, n1, c1)
		}
	} else {
		c1.Checks, c2.Checks = stateDir(t), stateDir(t)
		d := startHasidecar(t, lab, n1, c1)
		startHasidecar(t, lab, n2, c2)
		leave = func() { d.maintenance(t, "on") }
		back = func() { d.maintenance(t, "off") }
	}
	waitSoleHolder(t, lab, n1, 15*time.Second)
	return gapAround(t, lab, leave, n2), gapAround(t, lab, back, n1)
}

// gapAround pings the VIP, does act, waits until to holds the VIP alone and
// replies flow again, and returns the longest gap between replies.
func gapAround(t *testing.T, lab *netlab.Lab, act func(), to *netlab.Node) time.Duration {
	p := lab.Client.StartPinger(t, vip.Addr(), 10*time.Millisecond)
	time.Sleep(time.Second)
	if s := p.Stats(); s.Received == 0 {
		t.Fatalf("client gets no reply from the VIP before the handover: %+v", s)
	}
	act()
	waitSoleHolder(t, lab, to, 20*time.Second)
	before := p.Stats().Received
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Received < before+50 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	s := p.Stop()
	if s.Received < before+50 {
		t.Fatalf("client not served after the handover: %+v", s)
	}
	return s.LongestGap
}

// TestBenchHandover prints the planned-handover figures alone (TestBench
// has them as two rows of its table).
func TestBenchHandover(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	hOn, hOff := handoverGaps(t, false)
	kOn, kOff := handoverGaps(t, true)
	t.Logf("longest client gap, 1 s adverts: hasidecar maintenance on %v, off %v; keepalived stop %v, start %v",
		hOn.Round(time.Millisecond), hOff.Round(time.Millisecond), kOn.Round(time.Millisecond), kOff.Round(time.Millisecond))
}
