package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

func TestPairElectionTakeoverAndReturn(t *testing.T) {
	for _, preempt := range []bool{true, false} {
		t.Run(fmt.Sprintf("preempt=%v", preempt), func(t *testing.T) {
			netlab.RequireRoot(t)
			t.Parallel()
			lab := netlab.New(t, 2)
			n1, n2 := lab.Nodes[0], lab.Nodes[1]
			// Node 1 first: without preemption, whoever wins the first
			// election keeps the VIP, and the test wants node 1 as master.
			d1 := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: preempt})
			waitSoleHolder(t, lab, n1, 10*time.Second)
			d2 := startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: preempt})
			time.Sleep(500 * time.Millisecond) // node 2 hears node 1 and settles as backup
			// The client learns the VIP's MAC from the master.
			if err := lab.Client.Ping(vip.Addr(), 2*time.Second); err != nil {
				t.Fatalf("client cannot reach the VIP on the master: %v", err)
			}
			holdsSteady(t, lab, n1, 1500*time.Millisecond)
			if st := d2.status(t); st.Instances[0].State != "BACKUP" || st.Instances[0].MasterAddress != n1.Addr.String() {
				t.Fatalf("backup's status: %+v", st.Instances[0])
			}

			// The master drops off the segment: its link goes down, it
			// enters FAULT and releases the VIP; the backup takes over.
			lab.PortDown(t, n1)
			took := waitSoleHolder(t, lab, n2, 5*time.Second)
			t.Logf("takeover after the master's port went down: %v", took)
			// Gratuitous ARP from the new master moves the client's cache
			// without the client asking.
			waitNeighbour(t, lab.Client, n2.MAC(t), 2*time.Second)
			if st := d1.status(t); st.Instances[0].State != "FAULT" {
				t.Errorf("isolated master's state %s, want FAULT", st.Instances[0].State)
			}

			lab.PortUp(t, n1)
			if preempt {
				took = waitSoleHolder(t, lab, n1, 5*time.Second)
				t.Logf("preempted back after the port came up: %v", took)
			} else {
				time.Sleep(2 * time.Second)
				holdsSteady(t, lab, n2, time.Second)
				if st := d1.status(t); st.Instances[0].State != "BACKUP" {
					t.Errorf("returning node's state %s, want BACKUP without preemption", st.Instances[0].State)
				}
			}
		})
	}
}

// TestSplitBrainHealsWithGratuitousARP partitions the segment with the client
// on the backup's side, so that both nodes become master and the client's ARP
// cache points at the backup. After the heal the lower priority must yield at
// once and the winner must announce the VIP again: without that the client
// keeps sending to a node that no longer holds the VIP (what keepalived users
// report after a heal).
func TestSplitBrainHealsWithGratuitousARP(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2, client := lab.Nodes[0], lab.Nodes[1], lab.Client
	d1 := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true})
	startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true})
	waitSoleHolder(t, lab, n1, 10*time.Second)

	for _, round := range []string{"first", "second"} {
		// Both sides lose each other but keep their links: both become master.
		// n2 and the client stay on the segment's bridge, so that the heal
		// is one port moving back, as when a real link returns.
		lab.Partition(t, []*netlab.Node{n1})
		deadline := time.Now().Add(5 * time.Second)
		for len(holders(t, lab)) != 2 {
			if time.Now().After(deadline) {
				t.Fatalf("%s partition: VIP on %v, want both sides master", round, names(holders(t, lab)))
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The client, on n2's side, resolves the VIP to n2.
		if err := client.Ping(vip.Addr(), time.Second); err != nil {
			t.Fatalf("%s partition: client cannot reach the VIP on its side: %v", round, err)
		}
		waitNeighbour(t, client, n2.MAC(t), 2*time.Second)
		// Both masters have been master for more than a second, as in a real
		// split brain (the re-announcement is limited to one a second).
		time.Sleep(1200 * time.Millisecond)

		lab.Heal(t)
		took := waitSoleHolder(t, lab, n1, 2*time.Second)
		t.Logf("%s heal: n2 yielded after %v (advert interval 100ms)", round, took)
		if took > 500*time.Millisecond {
			t.Errorf("%s heal: the lower priority yielded after %v, want about one advert interval (100ms)", round, took)
		}
		// No traffic from the client meanwhile: only a gratuitous ARP from
		// n1 can move its cache.
		waitNeighbour(t, client, n1.MAC(t), time.Second)
		holdsSteady(t, lab, n1, time.Second)
	}
	if !strings.Contains(d1.proc.Log(), "split brain healed") {
		t.Errorf("the winner did not say why it announced the VIP again:\n%s", d1.proc.Log())
	}
}

func TestGracefulStopHandsOverWithinASecond(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	d1 := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true, AdvertInterval: time.Second})
	startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true, AdvertInterval: time.Second})
	waitSoleHolder(t, lab, n1, 15*time.Second)

	start := time.Now()
	if err := d1.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitSoleHolder(t, lab, n2, 5*time.Second)
	took := time.Since(start)
	t.Logf("backup owns the VIP %v after SIGTERM (Skew_Time at priority 100: 609ms)", took)
	if took > time.Second {
		t.Errorf("handover took %v, want within 1s at a 1s advert interval", took)
	}
	if exited, err := d1.proc.WaitTimeout(5 * time.Second); !exited {
		t.Fatalf("hasidecar did not exit after SIGTERM: %v", err)
	}
	if !strings.Contains(d1.proc.Log(), "MASTER") {
		t.Errorf("log does not tell the state changes:\n%s", d1.proc.Log())
	}
}

func TestStaleVIPIsRemovedBeforeTheElection(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	startHasidecar(t, lab, n2, nodeConfig{Priority: 200, Preempt: true})
	waitSoleHolder(t, lab, n2, 10*time.Second)

	// What a crashed master leaves behind.
	n1.Run(t, "ip", "addr", "add", vip.String(), "dev", n1.Iface)
	d1 := startHasidecar(t, lab, n1, nodeConfig{Priority: 100, Preempt: true})
	if err := d1.proc.WaitLog("removed a virtual address left on the interface", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitSoleHolder(t, lab, n2, 5*time.Second)
	holdsSteady(t, lab, n2, time.Second)
}

// TestMixedPairWithKeepalived replaces one node of a keepalived pair with
// hasidecar, in each role, and checks election, takeover and preemption.
func TestMixedPairWithKeepalived(t *testing.T) {
	modes := []struct {
		name string
		cfg  nodeConfig
	}{
		{"v2 multicast auth_pass", nodeConfig{Version: 2, AdvertInterval: time.Second, AuthPass: "secret1"}},
		{"v3 multicast", nodeConfig{Version: 3, AdvertInterval: 100 * time.Millisecond}},
		{"v3 unicast", nodeConfig{Version: 3, AdvertInterval: 100 * time.Millisecond, Unicast: true}},
	}
	for _, m := range modes {
		for _, hasidecarHigher := range []bool{true, false} {
			role := "hasidecar master"
			if !hasidecarHigher {
				role = "keepalived master"
			}
			t.Run(m.name+"/"+role, func(t *testing.T) {
				netlab.RequireRoot(t)
				netlab.RequireKeepalived(t)
				t.Parallel()
				lab := netlab.New(t, 2)
				hn, kn := lab.Nodes[0], lab.Nodes[1]
				hc, kc := m.cfg, m.cfg
				hc.Preempt, kc.Preempt = true, true
				hc.Priority, kc.Priority = 100, 150
				high, low := kn, hn
				if hasidecarHigher {
					hc.Priority, kc.Priority = 150, 100
					high, low = hn, kn
				}
				d := startHasidecar(t, lab, hn, hc)
				keepalivedPeer(t, lab, kn, kc)

				settle := 4*hc.AdvertInterval + 3*time.Second
				waitSoleHolder(t, lab, high, settle+5*time.Second)
				holdsSteady(t, lab, high, 2*hc.AdvertInterval+500*time.Millisecond)

				lab.PortDown(t, high)
				took := waitSoleHolder(t, lab, low, settle)
				t.Logf("takeover by %s after %s's port went down: %v", low.Name, high.Name, took)

				lab.PortUp(t, high)
				took = waitSoleHolder(t, lab, high, settle)
				t.Logf("%s preempted back after %v", high.Name, took)
				holdsSteady(t, lab, high, 2*hc.AdvertInterval+500*time.Millisecond)

				// keepalived's packets must decode and validate: nothing it
				// sent may have been dropped.
				st := d.status(t).Instances[0]
				if st.AdvertsRecv == 0 {
					t.Errorf("hasidecar accepted no advertisement from keepalived")
				}
				for reason, n := range st.Dropped {
					t.Errorf("hasidecar dropped %d of keepalived's packets: %s", n, reason)
				}
			})
		}
	}
}

// waitNeighbour waits until client's ARP entry for the VIP names mac.
func waitNeighbour(t *testing.T, client *netlab.Node, mac string, timeout time.Duration) {
	t.Helper()
	var got string
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if got, _ = client.ARPNeighbour(t, vip.Addr()); got == mac {
			return
		}
	}
	t.Fatalf("client's ARP entry for the VIP is %q, want %s (gratuitous ARP not seen)", got, mac)
}

func TestTrackInterfacePutsTheInstanceInFault(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	n1.Run(t, "ip", "link", "add", "uplink", "type", "veth", "peer", "name", "uplinkpeer")
	n1.Run(t, "ip", "link", "set", "uplinkpeer", "up")
	n1.Run(t, "ip", "link", "set", "uplink", "up")
	d1 := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true, Tracks: []string{"uplink"}})
	startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true})
	waitSoleHolder(t, lab, n1, 10*time.Second)

	n1.Run(t, "ip", "link", "set", "uplink", "down")
	waitSoleHolder(t, lab, n2, 5*time.Second)
	st := d1.status(t).Instances[0]
	if st.State != "FAULT" || len(st.Faults) != 1 || st.Faults[0] != "link uplink down" {
		t.Fatalf("status with the tracked link down: %+v", st)
	}

	n1.Run(t, "ip", "link", "set", "uplink", "up")
	waitSoleHolder(t, lab, n1, 5*time.Second)
	if st := d1.status(t).Instances[0]; st.State != "MASTER" || len(st.Faults) != 0 {
		t.Fatalf("status after the link came back: %+v", st)
	}
}

func TestNotifyScriptSeesEveryTransitionInOrder(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	dir := t.TempDir()
	out := filepath.Join(dir, "transitions")
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1 $2 $3 $4\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// keepalived's convention: notify_master first, with its own arguments;
	// then notify as SCRIPT INSTANCE NAME STATE PRIORITY.
	d1 := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true,
		InstanceExtra: fmt.Sprintf("  notify = %q\n  notify_master = [%q, \"to\", \"master\"]\n", script, script)})
	startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true})
	waitSoleHolder(t, lab, n1, 10*time.Second)
	lab.PortDown(t, n1)
	waitSoleHolder(t, lab, n2, 5*time.Second)
	lab.PortUp(t, n1)
	waitSoleHolder(t, lab, n1, 5*time.Second)
	d1.proc.Signal(syscall.SIGTERM)
	if exited, _ := d1.proc.WaitTimeout(10 * time.Second); !exited {
		t.Fatal("hasidecar did not exit")
	}
	b, _ := os.ReadFile(out)
	want := "INSTANCE VI_1 BACKUP 150\nto master  \nINSTANCE VI_1 MASTER 150\nINSTANCE VI_1 FAULT 150\n" +
		"INSTANCE VI_1 BACKUP 150\nto master  \nINSTANCE VI_1 MASTER 150\nINSTANCE VI_1 STOP 150\n"
	if string(b) != want {
		t.Fatalf("notify script saw:\n%s\nwant:\n%s", b, want)
	}
}

// TestKilledMasterRestartsWithoutAStaleVIP: a master SIGKILLed leaves its VIP
// on the interface (nothing could remove it) while the backup takes over.
// Restarted, it removes the stale address before the election, joins as
// backup and preempts back: one holder at the end.
func TestKilledMasterRestartsWithoutAStaleVIP(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	d1 := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true})
	waitSoleHolder(t, lab, n1, 10*time.Second)
	startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true})
	time.Sleep(500 * time.Millisecond)

	d1.proc.Signal(syscall.SIGKILL)
	d1.proc.WaitTimeout(5 * time.Second)
	// The backup takes over; the dead master's address is still there.
	if err := n2.WaitAddress(t, vip.Addr(), true, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !n1.HasAddress(t, vip.Addr()) {
		t.Fatal("a SIGKILLed master cannot have removed its VIP; the test premise does not hold")
	}

	d1.proc = n1.Start(t, binary, "run", "--config", d1.config)
	if err := d1.proc.WaitLog("removed a virtual address left on the interface", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	took := waitSoleHolder(t, lab, n1, 5*time.Second)
	t.Logf("restarted master is the sole holder again after %v", took)
	holdsSteady(t, lab, n1, time.Second)
}

// TestVRIDCollisionIsReportedWithoutFlapping: a foreign keepalived uses our
// VRID with other virtual addresses. Each side ignores the other's adverts
// (as keepalived does), so both stay master of their own addresses; hasidecar
// says so in its log, counts the drops, and never changes state.
func TestVRIDCollisionIsReportedWithoutFlapping(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	d := startHasidecar(t, lab, n1, nodeConfig{Priority: 100, Preempt: true})
	waitSoleHolder(t, lab, n1, 10*time.Second)
	foreign := netip.MustParsePrefix("198.51.100.150/24")
	n2.StartKeepalived(t, netlab.KeepalivedConfig{Iface: n2.Iface, State: "BACKUP", VRID: 51, Priority: 200,
		Version: 3, AdvertInterval: 100 * time.Millisecond, Preempt: true, VIPs: []netip.Prefix{foreign}})
	if err := n2.WaitAddress(t, foreign.Addr(), true, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := d.proc.WaitLog("VRID collision?", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	before := d.status(t).Instances[0]
	time.Sleep(2 * time.Second)
	after := d.status(t).Instances[0]
	if after.State != "MASTER" || after.Transitions != before.Transitions {
		t.Fatalf("flapping under a VRID collision: %+v then %+v", before, after)
	}
	collisions := func(d map[string]uint64) uint64 { return d["address list mismatch"] + d["address count mismatch"] }
	if collisions(after.Dropped) <= collisions(before.Dropped) {
		t.Fatalf("collision drops not counted: %v then %v", before.Dropped, after.Dropped)
	}
	if !n1.HasAddress(t, vip.Addr()) {
		t.Fatal("hasidecar lost its VIP to a router advertising other addresses")
	}
}
