package netlab

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// isSignalExit reports whether err is a process exit caused by a signal,
// which is how a stopped process is expected to end.
func isSignalExit(err error) bool {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return false
	}
	status, ok := exit.Sys().(syscall.WaitStatus)
	return ok && status.Signaled()
}

// namespacesWithPrefix lists the namespaces whose name starts with prefix.
func namespacesWithPrefix(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := runIP("netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			found = append(found, f[0])
		}
	}
	return found
}

func pidAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

func TestNewBuildsAndTearsDown(t *testing.T) {
	t.Parallel()
	RequireRoot(t)
	var prefix string
	var pid int
	t.Run("lab", func(t *testing.T) {
		lab := New(t, 3)
		prefix = lab.Prefix
		want := []string{lab.Switch, lab.Prefix + "1", lab.Prefix + "2", lab.Prefix + "3", lab.Prefix + "c"}
		got := namespacesWithPrefix(t, prefix)
		for _, w := range want {
			if !strings.Contains(strings.Join(got, " "), w) {
				t.Errorf("namespace %s missing; have %v", w, got)
			}
		}
		if len(lab.Nodes) != 3 || lab.Nodes[2].Addr != netip.MustParseAddr("198.51.100.3") {
			t.Errorf("nodes = %+v", lab.Nodes)
		}
		if lab.Client.Addr != netip.MustParseAddr("198.51.100.200") {
			t.Errorf("client address = %s", lab.Client.Addr)
		}
		for _, n := range append(lab.Nodes, lab.Client) {
			if !n.HasAddress(t, n.Addr) {
				t.Errorf("%s: %s not on %s", n.Name, n.Addr, n.Iface)
			}
		}
		p := lab.Nodes[0].Start(t, "sleep", "100")
		pid = p.Pid()
		if !pidAlive(pid) {
			t.Fatalf("sleep (pid %d) is not running", pid)
		}
	})
	if prefix == "" {
		t.Fatal("lab was not built")
	}
	if left := namespacesWithPrefix(t, prefix); len(left) > 0 {
		t.Errorf("namespaces left after cleanup: %v", left)
	}
	if pid != 0 && pidAlive(pid) {
		t.Errorf("process %d still alive after cleanup", pid)
	}
}

func TestTeardownKillsStrayChildren(t *testing.T) {
	t.Parallel()
	RequireRoot(t)
	var prefix string
	var childPid int
	t.Run("lab", func(t *testing.T) {
		lab := New(t, 1)
		prefix = lab.Prefix
		// The shell's pid is tracked, the background sleep's is not: only
		// the namespace sweep can find it.
		out := lab.Nodes[0].Run(t, "sh", "-c", "sleep 100 >/dev/null 2>&1 & echo $!")
		var err error
		if childPid, err = strconv.Atoi(strings.TrimSpace(out)); err != nil {
			t.Fatal(err)
		}
	})
	if left := namespacesWithPrefix(t, prefix); len(left) > 0 {
		t.Errorf("namespaces left after cleanup: %v", left)
	}
	// The orphan is reparented to init, which reaps it shortly after the kill.
	deadline := time.Now().Add(2 * time.Second)
	for childPid != 0 && pidAlive(childPid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if childPid != 0 && pidAlive(childPid) && !isZombie(childPid) {
		t.Errorf("stray child %d still alive after cleanup", childPid)
	}
}

// isZombie reports whether pid has exited but not been reaped yet (its
// parent, which is not this test, owns the reaping).
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestNodesReachEachOtherAndPortDown(t *testing.T) {
	t.Parallel()
	lab := New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	if err := n1.Ping(n2.Addr, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := n2.Ping(n1.Addr, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := lab.Client.Ping(n1.Addr, 2*time.Second); err != nil {
		t.Fatal(err)
	}

	lab.PortDown(t, n2)
	if err := n1.Ping(n2.Addr, 300*time.Millisecond); err == nil {
		t.Errorf("%s still answers with its port down", n2.Name)
	}
	lab.PortUp(t, n2)
	if err := n1.Ping(n2.Addr, 2*time.Second); err != nil {
		t.Errorf("after PortUp: %v", err)
	}
}

func TestPartitionAndHeal(t *testing.T) {
	t.Parallel()
	lab := New(t, 3)
	n1, n2, n3 := lab.Nodes[0], lab.Nodes[1], lab.Nodes[2]
	lab.Partition(t, []*Node{n1}, []*Node{n2, n3})
	if err := n1.Ping(n2.Addr, 300*time.Millisecond); err == nil {
		t.Error("n1 reaches n2 across the partition")
	}
	if err := n2.Ping(n3.Addr, 2*time.Second); err != nil {
		t.Errorf("n2 and n3 share a side: %v", err)
	}
	if err := lab.Client.Ping(n2.Addr, 300*time.Millisecond); err == nil {
		t.Error("client (left on br0) reaches n2 across the partition")
	}
	lab.Heal(t)
	for _, n := range []*Node{n2, n3, lab.Client} {
		if err := n1.Ping(n.Addr, 2*time.Second); err != nil {
			t.Errorf("after Heal: %v", err)
		}
	}
}

func TestPartitionRejectsNodeInTwoGroups(t *testing.T) {
	t.Parallel()
	lab := New(t, 2)
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		lab.Partition(ft, []*Node{lab.Nodes[0]}, []*Node{lab.Nodes[0], lab.Nodes[1]})
	}()
	if !ft.failed {
		t.Error("Partition accepted a node in two groups")
	}
}

// fatalRecorder turns Fatal and Skip into a recorded outcome plus a panic the
// caller recovers, so a test can check what a helper decided.
type fatalRecorder struct {
	testing.TB
	failed, skipped bool
}

func (f *fatalRecorder) Fatalf(string, ...any) { f.failed = true; panic("fatal") }
func (f *fatalRecorder) Fatal(...any)          { f.failed = true; panic("fatal") }
func (f *fatalRecorder) Helper()               {}
func (f *fatalRecorder) Skip(...any)           { f.skipped = true; panic("skip") }

func TestMissingFailsUnderCI(t *testing.T) {
	tests := []struct {
		name        string
		ci          string
		wantFailed  bool
		wantSkipped bool
	}{
		{name: "CI=true fails", ci: "true", wantFailed: true},
		{name: "no CI skips", ci: "", wantSkipped: true},
		{name: "CI=false skips", ci: "false", wantSkipped: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			rec := &fatalRecorder{TB: t}
			func() {
				defer func() { _ = recover() }()
				missing(rec, "no lab here")
			}()
			if rec.failed != tc.wantFailed || rec.skipped != tc.wantSkipped {
				t.Errorf("failed=%v skipped=%v, want failed=%v skipped=%v", rec.failed, rec.skipped, tc.wantFailed, tc.wantSkipped)
			}
		})
	}
}

func TestStartStopProcess(t *testing.T) {
	t.Parallel()
	lab := New(t, 1)
	n := lab.Nodes[0]

	p := n.Start(t, "sleep", "100")
	if p.Exited() {
		t.Fatalf("sleep exited at once: %s", p.Log())
	}
	if err := p.Stop(time.Second); !isSignalExit(err) {
		t.Errorf("Stop: err = %v, want exit by signal", err)
	}
	if !p.Exited() || pidAlive(p.Pid()) {
		t.Errorf("sleep (pid %d) still running after Stop", p.Pid())
	}

	// A process ignoring SIGTERM is killed after the grace period.
	stubborn := n.Start(t, "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done")
	if err := stubborn.WaitLog("ready", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stubborn.Stop(200 * time.Millisecond)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Stop took %v despite a 200ms grace", took)
	}

	echo := n.Start(t, "sh", "-c", "echo out; echo err >&2")
	if err := echo.Wait(); err != nil {
		t.Fatal(err)
	}
	if log := echo.Log(); !strings.Contains(log, "out") || !strings.Contains(log, "err") {
		t.Errorf("log = %q, want stdout and stderr", log)
	}

	// Run executes in the namespace: it sees the node's address.
	if out := n.Run(t, "ip", "-4", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, n.Addr.String()) {
		t.Errorf("ip addr inside %s: %s", n.Name, out)
	}
}

func TestDoRunsInNamespace(t *testing.T) {
	t.Parallel()
	lab := New(t, 1)
	n := lab.Nodes[0]
	var got []netip.Addr
	err := n.Do(func() error {
		link, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			ip, _ := netip.AddrFromSlice(a.IP)
			got = append(got, ip.Unmap())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != n.Addr {
		t.Errorf("addresses on eth0 inside %s = %v, want [%s]", n.Name, got, n.Addr)
	}
	want := errors.New("from fn")
	if err := n.Do(func() error { return want }); !errors.Is(err, want) {
		t.Errorf("Do returned %v, want fn's error", err)
	}
}

func TestWaitAddress(t *testing.T) {
	t.Parallel()
	lab := New(t, 1)
	n := lab.Nodes[0]
	vip := Address(100)
	if n.HasAddress(t, vip) {
		t.Fatal("VIP present before being added")
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, _ = runIP("-n", n.Name, "addr", "add", vip.String()+"/24", "dev", "eth0")
	}()
	if err := n.WaitAddress(t, vip, true, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitAddress(t, vip, false, 50*time.Millisecond); err == nil {
		t.Error("WaitAddress(absent) succeeded while the address is present")
	}
}

func TestPingerMeasuresPortDownGap(t *testing.T) {
	t.Parallel()
	lab := New(t, 1)
	n := lab.Nodes[0]
	p := lab.Client.StartPinger(t, n.Addr, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	lab.PortDown(t, n)
	time.Sleep(500 * time.Millisecond)
	lab.PortUp(t, n)
	time.Sleep(500 * time.Millisecond)
	s := p.Stop()
	t.Logf("pinger: %+v", s)
	if s.LongestGap < 300*time.Millisecond || s.LongestGap > 2*time.Second {
		t.Errorf("longest gap = %v, want between 300ms and 2s", s.LongestGap)
	}
	if s.Received == 0 || s.Received >= s.Sent {
		t.Errorf("received %d of %d, want some but not all", s.Received, s.Sent)
	}
	if s.Duplicates != 0 {
		t.Errorf("duplicates = %d", s.Duplicates)
	}
	if again := p.Stop(); again != s {
		t.Errorf("second Stop changed the figures: %+v", again)
	}
}

func TestPingerWithoutOutage(t *testing.T) {
	t.Parallel()
	lab := New(t, 1)
	p := lab.Client.StartPinger(t, lab.Nodes[0].Addr, 10*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	s := p.Stop()
	if s.Received < s.Sent-2 || s.LongestGap > 200*time.Millisecond {
		t.Errorf("healthy segment: %+v", s)
	}
}

func TestRenderedNamesAreShort(t *testing.T) {
	p, err := uniquePrefix()
	if err != nil {
		t.Fatal(err)
	}
	// Namespace names end up in paths and logs; keep them well short.
	if len(p+"sw") > 15 {
		t.Errorf("prefix %q too long", p)
	}
}

func TestNginxServesAndDies(t *testing.T) {
	RequireRoot(t)
	lab := New(t, 1)
	n := lab.Nodes[0]
	x := n.StartNginx(t)
	status, body, err := lab.Client.HTTPGet("http://"+n.Addr.String()+"/", time.Second)
	if err != nil || status != 200 || strings.TrimSpace(body) != n.Name {
		t.Fatalf("client GET: %d %q %v", status, body, err)
	}
	p := lab.Client.StartHTTPProber(t, "http://"+n.Addr.String()+"/", 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	x.Kill(t)
	if _, _, err := lab.Client.HTTPGet("http://"+n.Addr.String()+"/", 500*time.Millisecond); err == nil {
		t.Fatal("nginx still answers after Kill: its workers survived")
	}
	time.Sleep(300 * time.Millisecond)
	x.Restart(t)
	time.Sleep(300 * time.Millisecond)
	s := p.Stop()
	t.Logf("prober: %v", s)
	if s.LongestGap < 250*time.Millisecond || s.LongestGap > 5*time.Second || s.ServedBy[n.Name] == 0 {
		t.Fatalf("prober saw %v, want an outage of about 300ms+", s)
	}
}

func TestStaleLabIsSwept(t *testing.T) {
	RequireRoot(t)
	// A lab whose owner is gone: a namespace with a lab's name and an owner
	// file naming a pid that cannot exist.
	prefix, err := uniquePrefix()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runIP("netns", "add", prefix+"sw"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runIP("netns", "del", prefix+"sw") })
	if err := claim(prefix); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ownersDir, prefix), []byte("999999999"), 0o644); err != nil {
		t.Fatal(err)
	}
	New(t, 1)
	if _, err := os.Stat("/run/netns/" + prefix + "sw"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale namespace %ssw survived the sweep (%v)", prefix, err)
	}
}
