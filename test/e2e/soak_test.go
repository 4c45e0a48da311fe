//go:build bench

package e2e

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// soakDuration is how long TestSoak10msAdverts runs: 10 minutes, or
// HASIDECAR_SOAK (a Go duration) for a shorter pass.
func soakDuration() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("HASIDECAR_SOAK")); err == nil && d > 0 {
		return d
	}
	return 10 * time.Minute
}

// busyCores keeps n-1 cores busy (one on this 2-vCPU machine) with shell
// loops in node's namespace, stopped with the lab: adverts must keep their
// time while the daemon competes for the CPU.
func busyCores(t *testing.T, node *netlab.Node) {
	for i := 0; i < max(runtime.NumCPU()-1, 1); i++ {
		node.Start(t, "sh", "-c", "while :; do :; done")
	}
}

// TestSoak10msAdverts runs a hasidecar pair and, beside it in its own lab, a
// keepalived pair, both at 10 ms adverts (VRRPv3's minimum) with the other
// core busy, and counts transitions after they settle: any is spurious.
// `make soak` runs it.
func TestSoak10msAdverts(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	every := 10 * time.Millisecond
	hLab, kLab := netlab.New(t, 2), netlab.New(t, 2)
	d1 := startHasidecar(t, hLab, hLab.Nodes[0], nodeConfig{Priority: 150, Preempt: true, AdvertInterval: every})
	d2 := startHasidecar(t, hLab, hLab.Nodes[1], nodeConfig{Priority: 100, Preempt: true, AdvertInterval: every})
	k1 := keepalivedPeer(t, kLab, kLab.Nodes[0], nodeConfig{Priority: 150, Preempt: true, AdvertInterval: every})
	k2 := keepalivedPeer(t, kLab, kLab.Nodes[1], nodeConfig{Priority: 100, Preempt: true, AdvertInterval: every})
	waitSoleHolder(t, hLab, hLab.Nodes[0], 10*time.Second)
	waitSoleHolder(t, kLab, kLab.Nodes[0], 10*time.Second)
	time.Sleep(time.Second)
	busyCores(t, hLab.Client)

	transitions := func() int {
		return d1.status(t).Instances[0].Transitions + d2.status(t).Instances[0].Transitions
	}
	// keepalived logs each state it enters.
	kTransitions := func() int {
		return strings.Count(k1.Log(), "Entering ") + strings.Count(k2.Log(), "Entering ")
	}
	hBefore, kBefore := transitions(), kTransitions()
	dur := soakDuration()
	start := time.Now()
	var hDouble, kDouble int // samples with the VIP on both nodes
	for time.Since(start) < dur {
		if len(holders(t, hLab)) != 1 {
			hDouble++
		}
		if len(holders(t, kLab)) != 1 {
			kDouble++
		}
		time.Sleep(100 * time.Millisecond)
	}
	hSpurious, kSpurious := transitions()-hBefore, kTransitions()-kBefore
	fmt.Printf("\n10 ms adverts for %v with %d busy core(s): spurious transitions hasidecar %d, keepalived %d; "+
		"samples (every 100 ms) without exactly one VIP holder: hasidecar %d, keepalived %d\n\n",
		dur, max(runtime.NumCPU()-1, 1), hSpurious, kSpurious, hDouble, kDouble)
	if hSpurious != 0 || hDouble != 0 {
		t.Errorf("hasidecar: %d spurious transitions, %d samples without exactly one holder", hSpurious, hDouble)
	}
}
