//go:build bench

package e2e

// `make bench` runs TestBench: measurements, not assertions. Each figure is
// the median of a few trials; hasidecar and keepalived are measured in the
// same run on the same machine, and the table prints their ratio.

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/host/plugin"
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

// row is one line of the table: hasidecar's figure, keepalived's, and the
// ratio of the two numbers (0: no keepalived figure).
type row struct {
	name                  string
	hasidecar, keepalived string
	ratio                 float64
}

// ms formats d in milliseconds with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func durationRow(name string, h, k time.Duration) row {
	return row{name, h.Round(time.Millisecond).String(), k.Round(time.Millisecond).String(), float64(h) / float64(k)}
}

func TestBench(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	var rows []row
	for _, every := range []time.Duration{time.Second, 100 * time.Millisecond, 30 * time.Millisecond, 10 * time.Millisecond} {
		// The port goes down at a random point of the advert interval, so the
		// outage varies by up to one interval; below 1 s, where that is a
		// large part of it, take the median of three times the trials.
		n := trials()
		if every < time.Second {
			n *= 3
		}
		h := medianOf(t, n, "hasidecar-drop-"+every.String(), func(t *testing.T) time.Duration { return masterDropOutage(t, false, every) })
		k := medianOf(t, n, "keepalived-drop-"+every.String(), func(t *testing.T) time.Duration { return masterDropOutage(t, true, every) })
		rows = append(rows, durationRow(fmt.Sprintf("outage on master drop, %v adverts", every), h, k))
	}
	{
		n := 3 * trials()
		h := medianOf(t, n, "hasidecar-drop6", func(t *testing.T) time.Duration { return masterDropOutage6(t, false, 100*time.Millisecond) })
		k := medianOf(t, n, "keepalived-drop6", func(t *testing.T) time.Duration { return masterDropOutage6(t, true, 100*time.Millisecond) })
		rows = append(rows, durationRow("IPv6 outage on master drop, 100ms adverts", h, k))
	}
	h := median(t, "hasidecar-sigterm", func(t *testing.T) time.Duration { return gracefulStopOutage(t, false) })
	k := median(t, "keepalived-sigterm", func(t *testing.T) time.Duration { return gracefulStopOutage(t, true) })
	rows = append(rows, durationRow("outage on graceful stop (SIGTERM), 1s adverts", h, k))
	var hOn, hOff, kOn, kOff []time.Duration
	for i := 0; i < trials(); i++ {
		t.Run("maintenance-hasidecar", func(t *testing.T) { on, off := handoverGaps(t, false); hOn, hOff = append(hOn, on), append(hOff, off) })
		t.Run("maintenance-keepalived", func(t *testing.T) { on, off := handoverGaps(t, true); kOn, kOff = append(kOn, on), append(kOff, off) })
	}
	if len(hOn) > 0 && len(kOn) > 0 {
		rows = append(rows,
			durationRow("planned handover: maintenance on / keepalived stop", middle(hOn), middle(kOn)),
			durationRow("planned return: maintenance off / keepalived start", middle(hOff), middle(kOff)))
	}
	h = median(t, "hasidecar-nginx", func(t *testing.T) time.Duration { return nginxDeathOutage(t, false) })
	k = median(t, "keepalived-nginx", func(t *testing.T) time.Duration { return nginxDeathOutage(t, true) })
	rows = append(rows, durationRow("HTTP outage when nginx dies on the master", h, k))
	rows = append(rows, bgpBenchRows(t)...)

	// A 30 s window's p99 moves with one or two stalls of the VM, so each
	// scale figure is the median of its trials too, the three daemons'
	// trials taken in turn so that a noisy minute does not fall on one.
	var hss, kss, hcs []scaleResult
	for i := 0; i < trials(); i++ {
		t.Run(fmt.Sprintf("scale-hasidecar/trial%d", i), func(t *testing.T) { hss = append(hss, measureScale(t, false, 0)) })
		t.Run(fmt.Sprintf("scale-keepalived/trial%d", i), func(t *testing.T) { kss = append(kss, measureScale(t, true, 0)) })
		t.Run(fmt.Sprintf("scale-hasidecar-checks/trial%d", i), func(t *testing.T) { hcs = append(hcs, measureScale(t, false, scaleChecks)) })
	}
	hs, ks, hc := medianScale(t, "scale-hasidecar", hss), medianScale(t, "scale-keepalived", kss), medianScale(t, "scale-hasidecar-checks", hcs)
	pct := func(v float64) string { return fmt.Sprintf("%.1f %%", v) }
	rows = append(rows,
		row{"CPU, 200 instances at 100 ms, master", pct(hs.masterCPU), pct(ks.masterCPU), hs.masterCPU / ks.masterCPU},
		row{"CPU, 200 instances at 100 ms, backup", pct(hs.backupCPU), pct(ks.backupCPU), hs.backupCPU / ks.backupCPU},
		row{"CPU, 200 instances + 500 tcp checks/s, master", pct(hc.masterCPU), "-", 0},
		row{"CPU, 200 instances + 500 tcp checks/s, backup", pct(hc.backupCPU), "-", 0},
		row{"advert jitter p99, 200 instances, core busy", ms(hs.jitterP99), ms(ks.jitterP99), float64(hs.jitterP99) / float64(ks.jitterP99)},
		row{"advert jitter p99, + 500 tcp checks/s", ms(hc.jitterP99), "-", 0},
	)

	mib := func(v float64) string { return fmt.Sprintf("%.1f MiB", v) }
	for _, c := range memoryCases {
		h, k := residentMemory(t, c)
		rows = append(rows,
			row{"memory PSS, " + c.name, mib(h.pss), mib(k.pss), h.pss / k.pss},
			row{"memory PSS anonymous, " + c.name, mib(h.anon), mib(k.anon), h.anon / k.anon},
			row{"memory RSS, " + c.name, mib(h.rss), mib(k.rss), h.rss / k.rss})
	}
	p50, p99 := checkRPCOverhead(t)
	rows = append(rows, row{"check RPC overhead (tcp plugin), p50 / p99",
		fmt.Sprintf("%v / %v", p50.Round(time.Microsecond), p99.Round(time.Microsecond)), "-", 0})

	fmt.Printf("\nhasidecar beside keepalived (%s)\non %s\noutages are the longest gap between a client's "+
		"ping replies (every 10 ms, 2 ms at 30 and 10 ms adverts);\noutages, CPU and jitter are medians of %d trials (%d for master drop below 1 s)\n\n", keepalivedVersion(), machine(), trials(), 3*trials())
	fmt.Printf("%-50s %14s %14s %7s\n", "measurement", "hasidecar", "keepalived", "ratio")
	for _, r := range rows {
		ratio := "-"
		if r.ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.ratio)
		}
		fmt.Printf("%-50s %14s %14s %7s\n", r.name, r.hasidecar, r.keepalived, ratio)
	}
	fmt.Println("\nCPU is percent of one core for the daemon and its children over 30 s, with the other")
	fmt.Println("core busy; the checks (hasidecar only: keepalived has no TCP check for VRRP without")
	fmt.Println("forking a script) hit a local listener. Jitter is how far each gap between a VRID's")
	fmt.Println("adverts is from 100 ms, by the kernel's receive timestamps at the client. hasidecar's")
	fmt.Println("memory is the daemon and its four plugins (one check each); keepalived's is its parent")
	fmt.Println("and VRRP child with one vrrp_script. The RPC overhead is the host's round trip through")
	fmt.Println("gRPC minus the probe's own latency.")
	fmt.Println()
}

// machine describes where the bench ran: CPU model, cores and kernel.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%s, %d vCPU, Linux %s", model, runtime.NumCPU(), strings.TrimSpace(string(kernel)))
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
	return medianOf(t, trials(), name, measure)
}

// medianOf is the median of n trials.
func medianOf(t *testing.T, n int, name string, measure func(*testing.T) time.Duration) time.Duration {
	var got []time.Duration
	for i := 0; i < n; i++ {
		t.Run(fmt.Sprintf("%s/trial%d", name, i), func(t *testing.T) { got = append(got, measure(t)) })
	}
	if len(got) == 0 {
		t.Fatal("no trial succeeded")
	}
	m := middle(got)
	t.Logf("%s: %v", name, got) // sorted by middle
	return m
}

// middle is the median of v, which it sorts.
func middle[T cmp.Ordered](v []T) T {
	slices.Sort(v)
	return v[len(v)/2]
}

// medianScale is the median of each figure of the scale trials.
func medianScale(t *testing.T, name string, rs []scaleResult) scaleResult {
	if len(rs) == 0 {
		t.Fatalf("%s: no trial succeeded", name)
	}
	pick := func(f func(scaleResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return middle(v)
	}
	out := scaleResult{
		masterCPU: pick(func(r scaleResult) float64 { return r.masterCPU }),
		backupCPU: pick(func(r scaleResult) float64 { return r.backupCPU }),
		jitterP99: time.Duration(pick(func(r scaleResult) float64 { return float64(r.jitterP99) })),
		adverts:   int(pick(func(r scaleResult) float64 { return float64(r.adverts) })),
	}
	for _, r := range rs {
		t.Logf("%s: master %.1f%% backup %.1f%% jitter p99 %v", name, r.masterCPU, r.backupCPU, r.jitterP99)
	}
	return out
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
func outage(t *testing.T, lab *netlab.Lab, fault func(), pingEvery time.Duration) time.Duration {
	p := lab.Client.StartPinger(t, vip.Addr(), pingEvery)
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
	// Pings 5 times an interval apart at the fastest adverts, so that the
	// gap measures the failover rather than the pinger.
	pingEvery := 10 * time.Millisecond
	if every < 100*time.Millisecond {
		pingEvery = 2 * time.Millisecond
	}
	return outage(t, lab, func() { lab.PortDown(t, lab.Nodes[0]) }, pingEvery)
}

func gracefulStopOutage(t *testing.T, useKeepalived bool) time.Duration {
	lab := netlab.New(t, 2)
	stop := startPair(t, lab, useKeepalived, time.Second)
	return outage(t, lab, stop, 10*time.Millisecond)
}

const sigterm = syscall.SIGTERM

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// nginxDeathOutage: hasidecar with its httpget check (100 ms interval, fall 2)
// against keepalived at its best (vrrp_script with curl, interval 1 s, fall 1),
// both at 100 ms adverts; a client fetches a page through the VIP every 10 ms.
func nginxDeathOutage(t *testing.T, useKeepalived bool) time.Duration {
	netlab.RequireNginx(t)
	lab := netlab.New(t, 2)
	var webs []*netlab.Nginx
	for _, n := range lab.Nodes {
		webs = append(webs, n.StartNginx(t))
	}
	every := 100 * time.Millisecond
	for i, n := range lab.Nodes {
		c := nodeConfig{Priority: []int{150, 100}[i], Preempt: true, AdvertInterval: every}
		if useKeepalived {
			keepalivedScriptPeer(t, lab, n, c, "/usr/bin/curl -sf -o /dev/null -m 1 http://127.0.0.1/healthz")
		} else {
			c.Checks, c.InstanceExtra = nginxCheck(every, 2)
			startHasidecar(t, lab, n, c)
		}
	}
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	waitSoleHolder(t, lab, n1, 10*time.Second)
	p := lab.Client.StartHTTPProber(t, "http://"+vip.Addr().String()+"/", 10*time.Millisecond)
	waitServedBy(t, p, n1.Name, 5*time.Second)
	time.Sleep(500 * time.Millisecond)
	webs[0].Kill(t)
	waitServedBy(t, p, n2.Name, 20*time.Second)
	before := p.Stats().OK
	for end := time.Now().Add(5 * time.Second); p.Stats().OK < before+50 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	return p.Stop().LongestGap
}

// checkRPCOverhead runs the tcp plugin against a local listener through the
// plugin manager, as the daemon does, and returns the p50 and p99 of the
// round trip minus the probe's own latency.
func checkRPCOverhead(t *testing.T) (p50, p99 time.Duration) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Nothing accepts: the kernel completes the handshakes from the
	// backlog, so no goroutine of ours wakes during a check and competes
	// with the RPC being measured.
	defer l.Close()
	// The daemon runs with one P (cmd/hasidecar); with two, every hand-off
	// between gRPC's goroutines here would wake a second thread that the
	// daemon never has.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	m := plugin.NewManager(plugin.Options{Dir: filepath.Dir(binary)})
	defer m.Close()
	ctx := context.Background()
	cfg := []byte(`{"address":"` + l.Addr().String() + `"}`)
	if diags, err := m.Configure(ctx, "tcp", "bench", cfg); err != nil || diags.HasErrors() {
		t.Fatalf("configuring the tcp plugin: %v %v", diags, err)
	}
	var over []time.Duration
	for i := 0; i < 1500; i++ { // fewer than the listen backlog (4096)
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		start := time.Now()
		res, probe, err := m.Check(cctx, "tcp", "bench")
		rtt := time.Since(start)
		cancel()
		if err != nil || !res.Healthy {
			t.Fatalf("check %d: %+v %v", i, res, err)
		}
		if i >= 100 { // warm-up
			over = append(over, rtt-probe)
		}
	}
	slices.Sort(over)
	return over[len(over)/2], over[len(over)*99/100]
}

// TestBenchRPC measures only the check RPC overhead (make bench measures it
// in TestBench).
func TestBenchRPC(t *testing.T) {
	p50, p99 := checkRPCOverhead(t)
	fmt.Printf("check RPC overhead (tcp plugin): p50 %v, p99 %v\n", p50.Round(time.Microsecond), p99.Round(time.Microsecond))
}

// memory is what a daemon and its processes hold: resident (RSS, pages
// shared between its processes counted in each) and proportional (PSS, each
// shared page divided among the processes that map it: what the node pays).
// anon is the proportional set's anonymous part (heap, stacks, written
// data): what the kernel cannot reclaim, unlike pages of the executable and
// libraries, which stay in the page cache.
type memory struct{ rss, pss, anon float64 }

// allPluginChecks names each built-in plugin once.
func allPluginChecks(script string) string {
	return fmt.Sprintf(`
check "icmp" {
  plugin = "icmp"
  config { address = "127.0.0.1" }
}
check "tcp" {
  plugin = "tcp"
  config { address = "127.0.0.1:22" }
}
check "http" {
  plugin = "httpget"
  config { url = "http://127.0.0.1/" }
}
check "script" {
  plugin = "script"
  config { command = [%q] }
}
`, script)
}

// memoryCase is a hasidecar configuration whose memory make bench reads.
type memoryCase struct {
	name    string
	plugins int // plugin processes it starts
	checks  func(script string) (checks, instanceExtra string)
}

// memoryCases: the two goals (four plugins in use, the README's
// nginx pair), and the daemon with no check at all, which shows what the
// plugin processes and their gRPC transport add to the other two.
var memoryCases = []memoryCase{
	{"four plugins in use", 4, func(script string) (string, string) { return allPluginChecks(script), "" }},
	{"README's nginx pair (one httpget check)", 1, func(string) (string, string) { return nginxCheck(100*time.Millisecond, 2) }},
	{"daemon alone, no checks", 0, func(string) (string, string) { return "", "" }},
}

// residentMemory returns the memory of a running hasidecar configured as c
// and of a running keepalived with one vrrp_script (curl of nginx, as
// keepalived users track it), both in their steady state.
func residentMemory(t *testing.T, c memoryCase) (hasidecar, keepalived memory) {
	// A subtest of its own, so that its processes are gone before the next
	// measurement: pages shared with them would divide this one's PSS.
	t.Run(c.name, func(t *testing.T) {
		lab := netlab.New(t, 2)
		dir := t.TempDir()
		script := filepath.Join(dir, "ok.sh")
		os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755)
		n := nodeConfig{Priority: 150, Preempt: true}
		n.Checks, n.InstanceExtra = c.checks(script)
		plugins := c.plugins
		d := startHasidecar(t, lab, lab.Nodes[0], n)
		k := keepalivedScriptPeer(t, lab, lab.Nodes[1], nodeConfig{Priority: 100, Preempt: true}, "/usr/bin/curl -sf -o /dev/null -m 1 http://127.0.0.1/healthz")
		deadline := time.Now().Add(10 * time.Second)
		for len(d.proc.Children()) < plugins && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		// The steady state: both running their checks for a minute, well
		// past the moment hasidecar's processes give back their start-up
		// pages (10 s after start for the daemon) and the first garbage
		// collections. Read 3 s after start, as the previous round did,
		// the figures were a third lower: the heaps had not grown to
		// their collection goals and no code had been mapped again.
		time.Sleep(60 * time.Second)
		hasidecar = memoryOf(append([]int{d.proc.Pid()}, d.proc.Children()...))
		keepalived = memoryOf(append([]int{k.Pid()}, k.Children()...))
	})
	return hasidecar, keepalived
}

// memoryOf adds up RSS and PSS (MiB) of pids from /proc/PID/smaps_rollup.
func memoryOf(pids []int) memory {
	var rss, pss, anonAll int
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			continue
		}
		var anon, file int
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			n, _ := strconv.Atoi(f[1])
			switch f[0] {
			case "Rss:":
				rss += n
			case "Pss:":
				pss += n
			case "Pss_Anon:":
				anon = n
			case "Pss_File:":
				file = n
			}
		}
		anonAll += anon
		if dir := os.Getenv("HASIDECAR_BENCH_SMAPS"); dir != "" {
			// Each process's whole map, to see where its memory is.
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid)); err == nil {
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.smaps", pid)), b, 0o644)
			}
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if testing.Verbose() {
			fmt.Printf("  pid %d %-40.40s PSS anon %6d kB file %6d kB\n", pid, strings.ReplaceAll(string(cmdline), "\x00", " "), anon, file)
		}
	}
	return memory{float64(rss) / 1024, float64(pss) / 1024, float64(anonAll) / 1024}
}

// TestBenchMemory measures memory alone (`go test -tags bench -run
// TestBenchMemory -v ./test/e2e/`).
func TestBenchMemory(t *testing.T) {
	for _, c := range memoryCases {
		h, k := residentMemory(t, c)
		fmt.Printf("%s: hasidecar RSS %.1f PSS %.1f (anonymous %.1f) MiB, keepalived RSS %.1f PSS %.1f (anonymous %.1f) MiB (PSS ratio %.2f)\n", c.name, h.rss, h.pss, h.anon, k.rss, k.pss, k.anon, h.pss/k.pss)
	}
}

// bgpBenchRows measures the BGP announcements (issue 14) from a client
// behind an FRR router: how long new connections fail when nginx dies on
// one of two announcing nodes (100 ms checks, fall 2), and when a node's
// daemon is stopped. keepalived has no BGP: its column is empty.
func bgpBenchRows(t *testing.T) []row {
	if _, err := os.Stat("/usr/lib/frr/bgpd"); err != nil && os.Getenv("CI") != "true" {
		t.Log("FRRouting not installed: no BGP rows")
		return nil
	}
	var hRoute, sRoute []time.Duration
	h := median(t, "bgp-nginx", func(t *testing.T) time.Duration {
		window, route := bgpOutage(t, func(b *bgpLab, _ []*daemon) { kill(t, b.webs[0]) })
		hRoute = append(hRoute, route)
		return window
	})
	s := median(t, "bgp-sigterm", func(t *testing.T) time.Duration {
		window, route := bgpOutage(t, func(_ *bgpLab, ds []*daemon) { ds[0].proc.Signal(sigterm) })
		sRoute = append(sRoute, route)
		return window
	})
	return []row{
		{"BGP: HTTP outage when nginx dies on a node", h.Round(time.Millisecond).String(), "-", 0},
		{"BGP: router's route moves, nginx died", middle(hRoute).Round(time.Millisecond).String(), "-", 0},
		{"BGP: HTTP outage when a node's daemon stops", s.Round(time.Millisecond).String(), "-", 0},
		{"BGP: router's route moves, daemon stopped", middle(sRoute).Round(time.Millisecond).String(), "-", 0},
	}
}

// TestBenchBGP prints the BGP rows alone.
func TestBenchBGP(t *testing.T) {
	for _, r := range bgpBenchRows(t) {
		fmt.Printf("%-50s %14s\n", r.name, r.hasidecar)
	}
}

// bgpOutage runs two nodes announcing bgpVIP behind the router, sends a GET
// over a new connection from the client behind the router every 5 ms,
// injects fault on node 1 and returns the window in which requests failed
// (from the first failed request to the request after the last failed one)
// and how long after the fault the router's route left node 1.
// With ECMP only the connections hashed to node 1 fail, so the longest gap
// between successes would hide the outage; this window is what a user
// whose connections go to node 1 feels.
func bgpOutage(t *testing.T, fault func(*bgpLab, []*daemon)) (window, route time.Duration) {
	b := newBGPLab(t, 2)
	ds := b.startAnycast(t)
	const every = 5 * time.Millisecond
	type result struct {
		sent time.Time
		ok   bool
	}
	results := make(chan result, 1<<16)
	stop, ticking := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	go func() {
		defer close(ticking)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sent := time.Now()
				code, _, err := b.router.Client.HTTPGet(vipURL, time.Second)
				results <- result{sent, err == nil && code == 200}
			}()
		}
	}()
	time.Sleep(time.Second)
	start := time.Now()
	fault(b, ds)
	b.router.WaitNexthops(t, bgpVIP, b.addrs(b.nodes[1]), 20*time.Second)
	took := time.Since(start)
	time.Sleep(2 * time.Second)
	close(stop)
	<-ticking // no wg.Add after this
	wg.Wait()
	close(results)
	var firstFail, lastFail time.Time
	var n, failed int
	for r := range results {
		n++
		if r.ok {
			continue
		}
		failed++
		if firstFail.IsZero() || r.sent.Before(firstFail) {
			firstFail = r.sent
		}
		if r.sent.After(lastFail) {
			lastFail = r.sent
		}
	}
	if failed == 0 {
		t.Logf("no request failed out of %d; route changed %v after the fault", n, took)
		return 0, took
	}
	window = lastFail.Sub(firstFail) + every
	t.Logf("%d of %d requests failed over %v; the router's route changed %v after the fault", failed, n, window, took)
	return window, took
}
