package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// pluginPids lists the children of d's hasidecar process that run
// hasidecar-plugin-NAME. The status does not expose plugin pids, and only
// our own daemon's children may be signalled.
func pluginPids(d *daemon, name string) []int {
	var out []int
	for _, pid := range d.proc.Children() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		argv0, _, _ := strings.Cut(string(b), "\x00")
		if filepath.Base(argv0) == "hasidecar-plugin-"+name {
			out = append(out, pid)
		}
	}
	return out
}

// TestFlappingLinkOnTheMaster flaps the master's switch port every 300 ms for
// 10 s. While the port is down n1 has no carrier: its own interface is always
// tracked, so it is in FAULT and has dropped the VIP, and n2 may take over.
// While the port is up both can briefly hold the VIP (n2 took over, n1
// preempts back); that overlap must stay short, and once the flapping stops
// the VIP must end on n1 alone.
func TestFlappingLinkOnTheMaster(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	d1 := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true})
	waitSoleHolder(t, lab, n1, 10*time.Second)
	d2 := startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true})
	time.Sleep(500 * time.Millisecond) // n2 hears n1 and settles as backup
	holdsSteady(t, lab, n1, time.Second)
	before1, before2 := d1.status(t).Instances[0].Transitions, d2.status(t).Instances[0].Transitions

	const (
		flapEvery = 300 * time.Millisecond
		flapFor   = 10 * time.Second
		sample    = 10 * time.Millisecond
		// maxOverlapUp is the wide margin for two holders with the port up:
		// n1 preempts back after its Skew_Time (41 ms) and n2 yields on the
		// first advert it hears, so about one advert interval (100 ms).
		maxOverlapUp = 500 * time.Millisecond
	)
	var (
		portUp                    = true
		bothSince                 time.Time // first sample of the current overlap; zero when none
		longestUp, longestDown    time.Duration
		samples, n2Samples, empty int
		upPhases                  int
	)
	// closeOverlap ends the current overlap at now and books it to the
	// phase it happened in; a toggle cuts an overlap in two.
	closeOverlap := func(now time.Time) {
		if bothSince.IsZero() {
			return
		}
		d := now.Sub(bothSince)
		if portUp {
			longestUp = max(longestUp, d)
		} else {
			longestDown = max(longestDown, d)
		}
		bothSince = time.Time{}
	}
	start := time.Now()
	for {
		closeOverlap(time.Now())
		if portUp {
			lab.PortDown(t, n1)
		} else {
			lab.PortUp(t, n1)
			upPhases++
		}
		portUp = !portUp
		if portUp && time.Since(start) >= flapFor {
			break // the last PortUp: the settling after it is checked below
		}
		for phaseEnd := time.Now().Add(flapEvery); time.Now().Before(phaseEnd); time.Sleep(sample) {
			h, err := vipHolders(lab)
			if err != nil {
				t.Fatal(err)
			}
			samples++
			if len(h) == 2 {
				if bothSince.IsZero() {
					bothSince = time.Now()
				}
			} else {
				closeOverlap(time.Now())
			}
			if len(h) == 0 {
				empty++
			}
			if slices.Contains(h, n2) {
				n2Samples++
			}
		}
	}
	t.Logf("%d up phases, %d samples: n2 held the VIP in %d, nobody in %d", upPhases, samples, n2Samples, empty)
	t.Logf("longest overlap (both holding the VIP): %v with the port up, %v with it down", longestUp, longestDown)
	if longestUp > maxOverlapUp {
		t.Errorf("both nodes held the VIP for %v with the master's port up, want under %v (advert interval 100ms)", longestUp, maxOverlapUp)
	}

	took := waitSoleHolder(t, lab, n1, 5*time.Second)
	t.Logf("n1 sole holder %v after the last PortUp", took)
	holdsSteady(t, lab, n1, time.Second)
	st1, st2 := d1.status(t).Instances[0], d2.status(t).Instances[0]
	t.Logf("transitions during the flapping: n1 %d, n2 %d", st1.Transitions-before1, st2.Transitions-before2)
	if st1.State != "MASTER" || st2.State != "BACKUP" {
		t.Errorf("after the flapping: n1 %s, n2 %s; want MASTER and BACKUP", st1.State, st2.State)
	}
	if st1.Transitions == before1 {
		t.Errorf("n1 made no transition while its link flapped: the flapping did not reach it")
	}
}

// TestFrozenPluginIsRestartedWithoutBlocking SIGSTOPs the tcp plugin of the
// master's check. From host/plugin/manager.go: each check call then runs
// into its deadline (150 ms; a timeout above the interval is refused), and
// the third in a row (HungAfter = 3) makes the host SIGKILL the plugin and
// start a new one after a 100 ms backoff. fall = 3 is reached by that same
// third timeout, so the check does go unhealthy and the priority drops to
// 150-100 = 50 until the first pass after the restart, at least the backoff
// plus a spawn; n1 advertises the drop at once and n2 (100, fast_preempt)
// takes over after its Skew_Time (61 ms), so the VIP moves to n2. After the
// restart the check passes (rise 1) and n1 preempts back. Throughout, the
// daemon answers status and keeps advertising: n2 takes over because n1
// advertised priority 50, not because n1 fell silent.
func TestFrozenPluginIsRestartedWithoutBlocking(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]

	// A healthy service for the tcp check: a listener inside n1's namespace.
	svc := listenAndClose(t, n1)

	checks := fmt.Sprintf(`
check "svc" {
  plugin   = "tcp"
  interval = "200ms"
  timeout  = "150ms"
  rise     = 1
  fall     = 3
  config { address = %q }
}
`, svc)
	track := "  track_check \"svc\" { weight = -100 }\n"
	d1 := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true, Checks: checks, InstanceExtra: track})
	waitSoleHolder(t, lab, n1, 10*time.Second)
	d2 := startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true})
	time.Sleep(500 * time.Millisecond)
	holdsSteady(t, lab, n1, time.Second)
	if st := d1.status(t); !st.Checks[0].Healthy || st.Instances[0].EffectivePriority != 150 {
		t.Fatalf("before the freeze: %+v %+v", st.Checks[0], st.Instances[0])
	}

	pids := pluginPids(d1, "tcp")
	if len(pids) != 1 {
		t.Fatalf("tcp plugin processes under hasidecar: %v, want one", pids)
	}
	frozen := pids[0]
	_, frozenStart, _ := procState(frozen)
	if err := syscall.Kill(frozen, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozenAt := time.Now()

	var (
		slowest                                time.Duration
		unhealthyAt, restartedAt, n2At, healed time.Duration
		firstFailure                           string
		minPriority                            = 255
		statusCalls, newPid                    int
		sawUnhealthy, sawN2, recovered         bool
	)
	for deadline := frozenAt.Add(15 * time.Second); !recovered; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not recovered 15s after the freeze: unhealthy %v, new plugin pid %d, first failure %q", sawUnhealthy, newPid, firstFailure)
		}
		st, took, err := timedStatus(d1, 2*time.Second)
		if err != nil {
			t.Fatalf("status while the plugin is frozen (after %v): %v", took, err)
		}
		statusCalls++
		slowest = max(slowest, took)
		since := time.Since(frozenAt)
		c, in := st.Checks[0], st.Instances[0]
		minPriority = min(minPriority, in.EffectivePriority)
		if c.ConsecutiveFailures > 0 && firstFailure == "" {
			firstFailure = c.LastMessage
		}
		if !c.Healthy && !sawUnhealthy {
			sawUnhealthy, unhealthyAt = true, since
		}
		if newPid == 0 {
			for _, p := range pluginPids(d1, "tcp") {
				if p != frozen {
					newPid, restartedAt = p, since
				}
			}
		}
		h, err := vipHolders(lab)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(h, n2) && !sawN2 {
			sawN2, n2At = true, since
		}
		if sawUnhealthy && newPid != 0 && c.Healthy && in.EffectivePriority == 150 {
			recovered, healed = true, since
		}
	}
	t.Logf("after SIGSTOP: first failure %q, unhealthy at %v, new plugin pid %d seen at %v, healthy again at %v; n2 held the VIP from %v",
		firstFailure, unhealthyAt, newPid, restartedAt, healed, n2At)
	t.Logf("%d status answers while frozen or restarting, slowest %v; lowest effective priority %d", statusCalls, slowest, minPriority)
	if !strings.Contains(firstFailure, "timed out") {
		t.Errorf("first failing result %q, want a timeout", firstFailure)
	}
	if minPriority != 50 {
		t.Errorf("lowest effective priority seen %d, want 50 while the check failed", minPriority)
	}
	if slowest > time.Second {
		t.Errorf("status took %v while the plugin was frozen", slowest)
	}

	// The frozen process is gone: SIGKILLed and reaped by the host.
	gone := false
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if _, start, ok := procState(frozen); !ok || start != frozenStart {
			gone = true
			break
		}
	}
	if !gone {
		t.Errorf("frozen plugin %d still exists after the restart", frozen)
	}
	if err := d1.proc.WaitLog("plugin restarted", 5*time.Second); err != nil {
		t.Error(err)
	}
	if !strings.Contains(d1.proc.Log(), "got no answer before their deadline") {
		t.Errorf("the log does not say why the plugin was restarted")
	}

	took := waitSoleHolder(t, lab, n1, 5*time.Second)
	t.Logf("n1 sole holder again %v after recovery", took)
	holdsSteady(t, lab, n1, time.Second)
	// n2 took over on n1's advert of priority 50 (fast_preempt), which n1
	// could only send while its VRRP side kept running.
	if !sawN2 {
		t.Errorf("n2 never held the VIP, though n1's priority fell to %d", minPriority)
	}
	log2 := d2.proc.Log()
	if !strings.Contains(log2, "advertises priority 50, below our 100") {
		t.Errorf("n2 did not take over on n1's lowered priority:\n%s", log2)
	}
	if strings.Contains(log2, "silent for Master_Down_Interval") {
		t.Errorf("n1 stopped advertising while its plugin was frozen:\n%s", log2)
	}
	if st := d1.status(t); !st.Checks[0].Healthy || st.Instances[0].State != "MASTER" {
		t.Errorf("n1 at the end: %+v %+v", st.Checks[0], st.Instances[0])
	}
}

// TestHungForkingScriptIsKilledWithItsChildren runs a script check whose
// script forks two background sleeps and then sleeps in the foreground. At
// the 1 s timeout the check fails and the script plugin kills the script's
// process group, so every process each run started must be gone soon after.
// The check is not tracked: n1 must keep the VIP all along, which it can only
// do while its VRRP side keeps advertising.
func TestHungForkingScriptIsKilledWithItsChildren(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]

	// t.TempDir is root's and 0700, under the sticky /tmp: the script
	// plugin accepts it as root.
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pids")
	script := filepath.Join(dir, "hang.sh")
	body := fmt.Sprintf("#!/bin/sh\nsleep 300 &\na=$!\nsleep 300 &\nb=$!\necho \"$$ $a $b\" >> %s\nsleep 300\n", pidFile)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	checks := fmt.Sprintf(`
check "hang" {
  plugin   = "script"
  interval = "2s"
  timeout  = "1s"
  config { command = [%q] }
}
`, script)

	// Each run's processes are recorded while they are alive, by pid and
	// start time, so that a later process reusing a pid is not taken for
	// one of them. The watcher starts before the daemon: the first run
	// begins as the daemon starts.
	runs := watchRuns(t, pidFile)
	d1 := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true, Checks: checks})
	waitSoleHolder(t, lab, n1, 10*time.Second)
	d2 := startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true})

	const (
		// asserted is the number of runs held to the rule. It goes past the
		// third timeout in a row, where the host once took the punctual
		// plugin for hung and SIGKILLed it while it was killing the script's
		// process group, leaving script and children behind (now the host
		// asks the plugin for its schema before it decides it is hung).
		asserted = 4
		goneBy   = time.Second + 2*time.Second
	)
	var (
		slowest      time.Duration
		failed       bool
		failMessage  string
		lastStatusAt time.Time
		deadline     = time.Now().Add((asserted+1)*2*time.Second + 15*time.Second)
	)
	for {
		rs, err := runs()
		if err != nil {
			t.Fatal(err)
		}
		gone := 0
		for i, r := range rs {
			if !r.goneAt.IsZero() {
				gone++
			} else if i < asserted && time.Since(r.seen) > goneBy {
				t.Fatalf("run %d: processes %v still alive %v after they started (timeout 1s)", i+1, r.alive(), time.Since(r.seen))
			}
		}
		if len(rs) > asserted {
			if next := rs[asserted]; gone >= asserted && (!next.goneAt.IsZero() || time.Since(next.seen) > goneBy) {
				for i, r := range rs[:asserted+1] {
					if !r.goneAt.IsZero() {
						t.Logf("run %d: script and children %v gone %v after they were seen", i+1, r.pids(), r.goneAt.Sub(r.seen))
					} else {
						t.Logf("run %d (still running): processes %v of %v alive %v after they were seen",
							i+1, r.alive(), r.pids(), time.Since(r.seen))
					}
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runs seen, %d with every process gone; want %d", len(rs), gone, asserted+1)
		}
		if time.Since(lastStatusAt) >= 100*time.Millisecond {
			st, took, err := timedStatus(d1, 2*time.Second)
			if err != nil {
				t.Fatalf("status while the script hangs (after %v): %v", took, err)
			}
			lastStatusAt = time.Now()
			slowest = max(slowest, took)
			if c := st.Checks[0]; !c.Healthy && c.ConsecutiveFailures > 0 && !failed {
				failed, failMessage = true, c.LastMessage
			}
			if st.Instances[0].State != "MASTER" {
				t.Fatalf("n1 left MASTER while its untracked script hung: %+v", st.Instances[0])
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("check failed with %q; slowest status answer %v", failMessage, slowest)
	if !failed {
		t.Errorf("the check never failed")
	} else if !strings.Contains(failMessage, "timed out") && !strings.Contains(failMessage, "killed at the timeout") {
		t.Errorf("failing check's message %q, want a timeout", failMessage)
	}
	if slowest > time.Second {
		t.Errorf("status took %v while the script hung", slowest)
	}
	holdsSteady(t, lab, n1, time.Second)
	if st := d2.status(t).Instances[0]; st.State != "BACKUP" || st.Transitions != 1 {
		t.Errorf("n2 moved while n1's script hung: %+v", st)
	}
}

// procID is a process as first seen: a pid and its start time.
type procID struct {
	pid   int
	start uint64
}

// scriptRun is one run of the hanging script: its shell and two children.
type scriptRun struct {
	seen   time.Time // when its line appeared in the pid file
	procs  []procID
	goneAt time.Time // when none of procs was alive any more; zero until then
}

func (r scriptRun) pids() []int {
	out := make([]int, len(r.procs))
	for i, p := range r.procs {
		out[i] = p.pid
	}
	return out
}

// alive lists the processes of r still running: not gone, not a zombie
// waiting to be reaped, and not a pid reused by another process.
func (r scriptRun) alive() []int {
	var out []int
	for _, p := range r.procs {
		if st, start, ok := procState(p.pid); ok && start == p.start && st != 'Z' {
			out = append(out, p.pid)
		}
	}
	return out
}

// watchRuns polls pidFile every 5 ms in the background, records each new
// line's processes and when they are all gone. The returned function gives
// the runs so far, or the first error the watcher met (it must not call
// t.Fatal off the test goroutine).
func watchRuns(t *testing.T, pidFile string) func() ([]scriptRun, error) {
	var (
		mu   sync.Mutex
		runs []scriptRun
		werr error
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			b, _ := os.ReadFile(pidFile)
			if !bytes.HasSuffix(b, []byte("\n")) {
				continue // nothing yet, or a line being written
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			mu.Lock()
			for len(runs) < len(lines) && werr == nil {
				r := scriptRun{seen: time.Now()}
				for _, f := range strings.Fields(lines[len(runs)]) {
					pid, err := strconv.Atoi(f)
					if err != nil {
						werr = fmt.Errorf("pid file line %q: %v", lines[len(runs)], err)
						break
					}
					st, start, ok := procState(pid)
					if !ok || st == 'Z' {
						// The script writes the line and then sleeps until
						// its 1 s timeout: 5 ms later all of it still runs.
						werr = fmt.Errorf("run %d: pid %d gone already when first read", len(runs)+1, pid)
						break
					}
					r.procs = append(r.procs, procID{pid, start})
				}
				if werr == nil && len(r.procs) != 3 {
					werr = fmt.Errorf("pid file line %q, want three pids", lines[len(runs)])
				}
				runs = append(runs, r)
			}
			for i := range runs {
				if runs[i].goneAt.IsZero() && len(runs[i].alive()) == 0 {
					runs[i].goneAt = time.Now()
				}
			}
			mu.Unlock()
		}
	}()
	return func() ([]scriptRun, error) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(runs), werr
	}
}
