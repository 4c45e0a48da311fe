//go:build bench

package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hasidecar/hasidecar/host/vrrpconn"
	"github.com/hasidecar/hasidecar/internal/netlab"
)

// The scale scenario: 200 instances on one interface at 100 ms adverts, and
// for hasidecar optionally 500 tcp checks at 1 s tracked by them.
const (
	scaleInstances = 200
	scaleChecks    = 500
	scaleAdvert    = 100 * time.Millisecond
)

// scaleWindow is how long CPU and adverts are measured: 30 s, or
// HASIDECAR_SCALE_WINDOW (a Go duration).
func scaleWindow() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("HASIDECAR_SCALE_WINDOW")); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}

// scaleVIPs are 200 addresses of the lab's segment that no node uses.
func scaleVIPs() []netip.Prefix {
	var out []netip.Prefix
	for host := 3; len(out) < scaleInstances; host++ {
		if host == 200 { // the client
			continue
		}
		out = append(out, netip.PrefixFrom(netlab.Address(host), netlab.SegmentBits()))
	}
	return out
}

// scaleResult is what one scale run measured.
type scaleResult struct {
	masterCPU, backupCPU float64       // percent of one core, daemon and its children
	jitterP99            time.Duration // |gap between a VRID's adverts - 100 ms|, at the client
	adverts              int           // adverts the client saw in the window
}

// hasidecarScaleConfig renders a node's configuration with every instance
// and, when checks > 0, that many tcp checks against addr, spread over the
// instances with a weight.
func hasidecarScaleConfig(n *netlab.Node, socket string, priority, checks int, addr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "node_name = %q\nlog_level = \"info\"\nlog_format = \"console\"\ncontrol { socket = %q }\n", n.Name, socket)
	for c := 0; c < checks; c++ {
		fmt.Fprintf(&b, "check \"c%d\" {\n  plugin = \"tcp\"\n  interval = \"1s\"\n  timeout = \"500ms\"\n  config { address = %q }\n}\n", c, addr)
	}
	for i, v := range scaleVIPs() {
		fmt.Fprintf(&b, "vrrp_instance \"VI_%d\" {\n  interface = %q\n  virtual_router_id = %d\n  priority = %d\n", i+1, n.Iface, i+1, priority)
		fmt.Fprintf(&b, "  version = 3\n  advert_interval = %q\n  preempt = true\n  virtual_ips = [%q]\n", scaleAdvert.String(), v.String())
		for c := i; c < checks; c += scaleInstances {
			fmt.Fprintf(&b, "  track_check \"c%d\" { weight = -10 }\n", c)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// keepalivedScaleConfig is the same 200 instances for keepalived.
func keepalivedScaleConfig(n *netlab.Node, priority int) netlab.KeepalivedConfig {
	vips := scaleVIPs()
	kc := netlab.KeepalivedConfig{Iface: n.Iface, State: "BACKUP", VRID: 1, Priority: priority, Version: 3,
		AdvertInterval: scaleAdvert, Preempt: true, VIPs: vips[:1]}
	for i := 1; i < scaleInstances; i++ {
		kc.TopLevel = append(kc.TopLevel, fmt.Sprintf(`vrrp_instance VI_%d {
    state BACKUP
    interface %s
    virtual_router_id %d
    priority %d
    version 3
    advert_int 0.1
    virtual_ipaddress {
        %s dev %s
    }
}`, i+1, n.Iface, i+1, priority, vips[i], n.Iface))
	}
	return kc
}

// measureScale runs the scale scenario with hasidecar or keepalived on both
// nodes, waits until node 1 holds all 200 VIPs, keeps the other core busy and
// measures CPU and advert timing over scaleWindow().
func measureScale(t *testing.T, useKeepalived bool, checks int) scaleResult {
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	var pids [2]func() []int
	for i, n := range lab.Nodes {
		prio := []int{150, 100}[i]
		if useKeepalived {
			p := n.StartKeepalived(t, keepalivedScaleConfig(n, prio))
			pids[i] = func() []int { return append([]int{p.Pid()}, p.Children()...) }
			continue
		}
		addr := ""
		if checks > 0 {
			addr = listenAndClose(t, n)
		}
		dir := t.TempDir()
		d := &daemon{node: n, config: filepath.Join(dir, "hasidecar.hcl"), socket: filepath.Join(dir, "hasidecar.sock")}
		if err := os.WriteFile(d.config, []byte(hasidecarScaleConfig(n, d.socket, prio, checks, addr)), 0o644); err != nil {
			t.Fatal(err)
		}
		d.proc = n.Start(t, binary, "run", "--config", d.config)
		pids[i] = func() []int { return append([]int{d.proc.Pid()}, d.proc.Children()...) }
	}
	vips := scaleVIPs()
	deadline := time.Now().Add(60 * time.Second)
	for {
		on1, on2 := countVIPs(t, n1, vips), countVIPs(t, n2, vips)
		if on1 == len(vips) && on2 == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s node 1 holds %d and node 2 %d of the %d VIPs", on1, on2, len(vips))
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // checks started, first rounds done
	busyCores(t, lab.Client)

	adverts := listenAdverts(t, lab.Client, n1.Addr)
	c1, c2 := ticksOf(pids[0]()), ticksOf(pids[1]())
	start := time.Now()
	time.Sleep(scaleWindow())
	e1, e2 := ticksOf(pids[0]()), ticksOf(pids[1]())
	elapsed := time.Since(start)
	seen := adverts()
	if on1, on2 := countVIPs(t, n1, vips), countVIPs(t, n2, vips); on1 != len(vips) || on2 != 0 {
		t.Errorf("after the window node 1 holds %d and node 2 %d of the %d VIPs", on1, on2, len(vips))
	}
	return scaleResult{
		masterCPU: cpuPercent(c1, e1, elapsed),
		backupCPU: cpuPercent(c2, e2, elapsed),
		jitterP99: jitterP99(seen, scaleAdvert),
		adverts:   countAll(seen),
	}
}

func countVIPs(t *testing.T, n *netlab.Node, vips []netip.Prefix) int {
	have, err := n.Addresses()
	if err != nil {
		t.Fatal(err)
	}
	c := 0
	for _, p := range have {
		if slices.Contains(vips, p) {
			c++
		}
	}
	return c
}

// ticksOf sums cpuTicks over pids.
func ticksOf(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		total += cpuTicks(pid)
	}
	return total
}

// listenAdverts records, in the client's namespace, when each VRID's adverts
// from src arrive. The time is the kernel's receive timestamp
// (SO_TIMESTAMPNS), so that the figure is the sender's jitter and not this
// process's scheduling on a busy machine. Call the returned function to stop.
func listenAdverts(t *testing.T, client *netlab.Node, src netip.Addr) func() map[uint8][]time.Time {
	var fd int
	if err := client.Do(func() error {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, vrrpconn.Protocol); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
			return err
		}
		ifi, err := net.InterfaceByName(client.Iface)
		if err != nil {
			return err
		}
		mreq := &unix.IPMreqn{Multiaddr: vrrpconn.MulticastGroup.As4(), Ifindex: int32(ifi.Index)}
		if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
			return err
		}
		// A blocking read that wakes every 100 ms, to notice the stop.
		return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[uint8][]time.Time{}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer unix.Close(fd)
		buf, oob := make([]byte, 2048), make([]byte, 256)
		want := src.As4()
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
			if err != nil {
				continue // the 100 ms timeout, or an interrupted call
			}
			ihl := int(buf[0]&0x0f) * 4
			if n < ihl+2 || [4]byte(buf[12:16]) != want {
				continue
			}
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				continue
			}
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
					ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
					mu.Lock()
					seen[buf[ihl+1]] = append(seen[buf[ihl+1]], time.Unix(ts.Unix()))
					mu.Unlock()
				}
			}
		}
	}()
	return func() map[uint8][]time.Time {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// jitterP99 is the 99th percentile of how far each gap between two adverts
// of one VRID is from the advert interval.
func jitterP99(seen map[uint8][]time.Time, every time.Duration) time.Duration {
	var dev []time.Duration
	for _, ts := range seen {
		for i := 1; i < len(ts); i++ {
			d := ts[i].Sub(ts[i-1]) - every
			if d < 0 {
				d = -d
			}
			dev = append(dev, d)
		}
	}
	if len(dev) == 0 {
		return 0
	}
	slices.Sort(dev)
	return dev[len(dev)*99/100]
}

func countAll(seen map[uint8][]time.Time) int {
	n := 0
	for _, ts := range seen {
		n += len(ts)
	}
	return n
}

// TestBenchScale runs only the scale rows (make bench runs them in TestBench).
func TestBenchScale(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	for _, c := range []struct {
		name   string
		keep   bool
		checks int
	}{{"hasidecar", false, 0}, {"keepalived", true, 0}, {"hasidecar+checks", false, scaleChecks}} {
		t.Run(c.name, func(t *testing.T) {
			r := measureScale(t, c.keep, c.checks)
			fmt.Printf("%s: master %.1f%% backup %.1f%% of a core, jitter p99 %v over %d adverts\n",
				c.name, r.masterCPU, r.backupCPU, r.jitterP99, r.adverts)
		})
	}
}
