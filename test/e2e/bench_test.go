//go:build bench

package e2e

// `make bench` runs TestBench: measurements, not assertions. Each figure is
// the median of a few trials; hasidecar and keepalived are measured in the
// same run on the same machine, and the table prints their ratio.

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// trials is how many times each figure is measured; HASIDECAR_BENCH_TRIALS
// overrides it.
func trials() int {
	if n, err := strconv.Atoi(os.Getenv("HASIDECAR_BENCH_TRIALS")); err == nil && n > 0 {
		return n
	}
	return 3
}

type row struct {
	name                  string
	hasidecar, keepalived time.Duration
}

func TestBench(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	var rows []row
	for _, every := range []time.Duration{time.Second, 100 * time.Millisecond} {
		r := row{name: fmt.Sprintf("outage on master drop, VRRPv3, %v adverts", every)}
		r.hasidecar = median(t, "hasidecar-drop-"+every.String(), func(t *testing.T) time.Duration { return masterDropOutage(t, false, every) })
		r.keepalived = median(t, "keepalived-drop-"+every.String(), func(t *testing.T) time.Duration { return masterDropOutage(t, true, every) })
		rows = append(rows, r)
	}
	r := row{name: "outage on graceful stop (SIGTERM), 1s adverts"}
	r.hasidecar = median(t, "hasidecar-sigterm", func(t *testing.T) time.Duration { return gracefulStopOutage(t, false) })
	r.keepalived = median(t, "keepalived-sigterm", func(t *testing.T) time.Duration { return gracefulStopOutage(t, true) })
	rows = append(rows, r)

	fmt.Printf("\nhasidecar beside keepalived (%s), client pings the VIP every 10 ms; longest gap between replies, median of %d\n\n",
		keepalivedVersion(), trials())
	fmt.Printf("%-48s %12s %12s %8s\n", "measurement", "hasidecar", "keepalived", "ratio")
	for _, r := range rows {
		fmt.Printf("%-48s %12v %12v %8.2f\n", r.name, r.hasidecar.Round(time.Millisecond), r.keepalived.Round(time.Millisecond),
			float64(r.hasidecar)/float64(r.keepalived))
	}
	fmt.Println()
}

func keepalivedVersion() string {
	out, err := execOutput("keepalived", "--version")
	if err != nil {
		return "keepalived"
	}
	for i, c := range out {
		if c == '\n' {
			return out[:i]
		}
	}
	return out
}

func median(t *testing.T, name string, measure func(*testing.T) time.Duration) time.Duration {
	var got []time.Duration
	for i := 0; i < trials(); i++ {
		t.Run(fmt.Sprintf("%s/trial%d", name, i), func(t *testing.T) { got = append(got, measure(t)) })
	}
	if len(got) == 0 {
		t.Fatal("no trial succeeded")
	}
	slices.Sort(got)
	return got[len(got)/2]
}

// startPair runs node 1 (priority 150) and node 2 (priority 100) with
// hasidecar or keepalived, and waits until node 1 holds the VIP.
func startPair(t *testing.T, lab *netlab.Lab, useKeepalived bool, every time.Duration) (stop1 func()) {
	c1 := nodeConfig{Priority: 150, Preempt: true, AdvertInterval: every}
	c2 := nodeConfig{Priority: 100, Preempt: true, AdvertInterval: every}
	if useKeepalived {
		p := keepalivedPeer(t, lab, lab.Nodes[0], c1)
		keepalivedPeer(t, lab, lab.Nodes[1], c2)
		stop1 = func() { p.Signal(sigterm) }
	} else {
		d := startHasidecar(t, lab, lab.Nodes[0], c1)
		startHasidecar(t, lab, lab.Nodes[1], c2)
		stop1 = func() { d.proc.Signal(sigterm) }
	}
	waitSoleHolder(t, lab, lab.Nodes[0], 4*every+10*time.Second)
	return stop1
}

// outage pings the VIP from the client, waits until replies flow, injects
// the fault, waits until node 2 holds the VIP and replies flow again, and
// returns the longest gap between replies.
func outage(t *testing.T, lab *netlab.Lab, fault func()) time.Duration {
	p := lab.Client.StartPinger(t, vip.Addr(), 10*time.Millisecond)
	time.Sleep(time.Second)
	if s := p.Stats(); s.Received == 0 {
		t.Fatalf("client gets no reply from the VIP before the fault: %+v", s)
	}
	fault()
	waitSoleHolder(t, lab, lab.Nodes[1], 20*time.Second)
	before := p.Stats().Received
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Received < before+50 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	s := p.Stop()
	if s.Received < before+50 {
		t.Fatalf("client not served after the failover: %+v", s)
	}
	return s.LongestGap
}

func masterDropOutage(t *testing.T, useKeepalived bool, every time.Duration) time.Duration {
	lab := netlab.New(t, 2)
	startPair(t, lab, useKeepalived, every)
	return outage(t, lab, func() { lab.PortDown(t, lab.Nodes[0]) })
}

func gracefulStopOutage(t *testing.T, useKeepalived bool) time.Duration {
	lab := netlab.New(t, 2)
	stop := startPair(t, lab, useKeepalived, time.Second)
	return outage(t, lab, stop)
}

const sigterm = syscall.SIGTERM

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
