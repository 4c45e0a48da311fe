// Package netlab builds private L2 segments out of network namespaces for the
// project's network tests: a bridge in its own namespace (the "switch"), nodes
// and one client each in their own namespace with a veth on that bridge, the
// processes that run inside them, the faults a test injects (a port down, a
// partition) and the measurement of what the client feels (Pinger).
//
// Everything a lab creates lives in namespaces it names itself and removes in
// t.Cleanup, also when the test fails. Nothing is added to the root namespace:
// a bridge or an address there would put the host on the segment.
package netlab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// segment is the documentation range every lab uses for node, client and
// virtual addresses; it never leaves the lab's namespaces.
var segment = netip.MustParsePrefix("198.51.100.0/24")

// segment6 is the segment's IPv6 documentation range: node n is
// 2001:db8:51::n/64.
var segment6 = netip.MustParsePrefix("2001:db8:51::/64")

const (
	// clientHost is the last octet of the client's address.
	clientHost = 200
	// bridgeName is the switch's main bridge; partitions add br1, br2, ...
	bridgeName = "br0"
	// nodeIface is the name of every node's interface on the segment.
	nodeIface = "eth0"
	// ipTimeout bounds every `ip` invocation: a hung command must fail the
	// test, not the whole package's deadline.
	ipTimeout = 30 * time.Second
	// killGrace is how long a process gets between SIGTERM and SIGKILL at
	// teardown.
	killGrace = 3 * time.Second
)

// Lab is one private L2 segment: a switch namespace holding bridge br0, the
// nodes and the client, each plugged into a port of that bridge.
type Lab struct {
	// Prefix starts the name of every namespace of this lab.
	Prefix string
	// Switch is the namespace holding the bridge br0 and the ports.
	Switch string
	// Nodes are the lab's nodes, 198.51.100.1..n.
	Nodes []*Node
	// Client is the node that measures what users feel, 198.51.100.200.
	Client *Node

	mu         sync.Mutex
	namespaces []string   // created so far, deleted at teardown
	procs      []*Process // started so far, killed at teardown
	bridges    []string   // extra bridges made by Partition
}

// Node is one namespace on the segment.
type Node struct {
	// Name is the node's network namespace.
	Name string
	// Addr is the node's address on Iface.
	Addr netip.Addr
	// Addr6 is the node's global IPv6 address on Iface (2001:db8:51::n/64);
	// Iface also has a link-local address, usable at once (no duplicate
	// address detection in a lab).
	Addr6 netip.Addr
	// Prefix is Addr with the segment's prefix length, as configured on
	// Iface (for example 198.51.100.1/24).
	Prefix netip.Prefix
	// Port is the switch-side veth of this node, in the Switch namespace.
	Port string
	// Iface is the node-side interface on the segment ("eth0").
	Iface string

	lab *Lab
}

// RequireRoot skips the test when the machine cannot build a lab (not root,
// no `ip`, no network namespaces). When CI=true it fails instead: a lab test
// that skips in CI is a failure.
func RequireRoot(t testing.TB) {
	t.Helper()
	if reason := labUnavailable(); reason != "" {
		missing(t, "network lab unavailable: "+reason)
	}
}

// RequireKeepalived skips the test when keepalived is not installed, and
// fails it when CI=true (CI installs keepalived).
func RequireKeepalived(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("keepalived"); err != nil {
		missing(t, "keepalived is not installed (apt-get install keepalived)")
	}
}

// missing skips, or fails under CI where every lab test must run.
func missing(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: lab tests may not skip)", reason)
	}
	t.Skip(reason)
}

// labUnavailable says why a lab cannot be built here, or "" when it can.
func labUnavailable() string {
	if os.Geteuid() != 0 {
		return "tests need root for network namespaces (run as root, e.g. sudo go test)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "the `ip` command (iproute2) is not installed"
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return "the kernel has no network namespace support: " + err.Error()
	}
	return ""
}

// New builds a segment with n nodes (198.51.100.1..n/24 on eth0) and one
// client (198.51.100.200/24), the bridge in its own namespace. Everything is
// torn down in t.Cleanup, also when New itself fails half-way.
func New(t testing.TB, n int) *Lab {
	t.Helper()
	RequireRoot(t)
	if n < 1 || n >= clientHost {
		t.Fatalf("netlab.New: node count %d out of range 1..%d", n, clientHost-1)
	}
	sweepStale(t)
	prefix, err := uniquePrefix()
	if err != nil {
		t.Fatalf("netlab.New: %v", err)
	}
	l := &Lab{Prefix: prefix, Switch: prefix + "sw"}
	if err := claim(prefix); err != nil {
		t.Fatalf("netlab.New: %v", err)
	}
	// Register the temporary directory before the teardown: cleanups run
	// last-in first-out, so files the lab's processes still write are removed
	// only after those processes are dead.
	_ = t.TempDir()
	t.Cleanup(func() { l.teardown(t) })

	if err := l.addNamespace(l.Switch); err != nil {
		t.Fatalf("netlab.New: %v", err)
	}
	l.mustIP(t, "-n", l.Switch, "link", "set", "lo", "up")
	l.mustIP(t, "-n", l.Switch, "link", "add", bridgeName, "type", "bridge",
		"forward_delay", "0", "mcast_snooping", "0")
	l.mustIP(t, "-n", l.Switch, "link", "set", bridgeName, "up")

	for i := 1; i <= n; i++ {
		l.Nodes = append(l.Nodes, l.addNode(t, strconv.Itoa(i), i))
	}
	l.Client = l.addNode(t, "c", clientHost)
	return l
}

// uniquePrefix derives a short namespace prefix from the pid and random bytes,
// so parallel test binaries never collide, and checks nothing uses it yet.
func uniquePrefix() (string, error) {
	for range 10 {
		var b [2]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("reading random bytes for a lab name: %w", err)
		}
		p := fmt.Sprintf("nl%04x%s", os.Getpid()&0xffff, hex.EncodeToString(b[:]))
		if _, err := os.Stat("/run/netns/" + p + "sw"); errors.Is(err, os.ErrNotExist) {
			return p, nil
		}
	}
	return "", errors.New("no free lab name after 10 attempts")
}

// addNode creates a namespace with eth0 = 198.51.100.host/24, its other end
// being port p<suffix> of the bridge.
func (l *Lab) addNode(t testing.TB, suffix string, host int) *Node {
	t.Helper()
	addr := Address(host)
	n := &Node{
		Name:   l.Prefix + suffix,
		Addr:   addr,
		Addr6:  Address6(host),
		Prefix: netip.PrefixFrom(addr, segment.Bits()),
		Port:   "p" + suffix,
		Iface:  nodeIface,
		lab:    l,
	}
	if err := l.addNamespace(n.Name); err != nil {
		t.Fatalf("netlab.New: %v", err)
	}
	l.mustIP(t, "-n", l.Switch, "link", "add", n.Port, "type", "veth",
		"peer", "name", n.Iface, "netns", n.Name)
	l.mustIP(t, "-n", l.Switch, "link", "set", n.Port, "master", bridgeName, "up")
	l.mustIP(t, "-n", n.Name, "addr", "add", n.Prefix.String(), "dev", n.Iface)
	if err := noDAD(n.Name, n.Iface); err != nil {
		t.Fatalf("netlab.New: %v", err)
	}
	l.mustIP(t, "-n", n.Name, "addr", "add", netip.PrefixFrom(n.Addr6, segment6.Bits()).String(), "dev", n.Iface, "nodad")
	l.mustIP(t, "-n", n.Name, "link", "set", n.Iface, "up")
	l.mustIP(t, "-n", n.Name, "link", "set", "lo", "up")
	return n
}

// Address returns the segment address with the given last octet, e.g.
// Address(100) = 198.51.100.100, for virtual addresses in tests.
func Address(host int) netip.Addr {
	a := segment.Addr().As4()
	a[3] = byte(host)
	return netip.AddrFrom4(a)
}

// Address6 returns the segment's IPv6 address with the given last group,
// e.g. Address6(100) = 2001:db8:51::100 (hexadecimal digits of the decimal
// number, so that it reads like Address(100)).
func Address6(host int) netip.Addr {
	a := segment6.Addr().As16()
	v, _ := strconv.ParseUint(strconv.Itoa(host), 16, 16)
	a[14], a[15] = byte(v>>8), byte(v)
	return netip.AddrFrom16(a)
}

// SegmentBits is the prefix length of the lab's segment (24).
func SegmentBits() int { return segment.Bits() }

// addNamespace creates a namespace and records it for teardown. It retries
// because concurrent first uses of /run/netns by parallel packages can race
// on its mount.
func (l *Lab) addNamespace(name string) error {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		if _, err = runIP("netns", "add", name); err == nil {
			l.mu.Lock()
			l.namespaces = append(l.namespaces, name)
			l.mu.Unlock()
			// Before any interface exists: otherwise link-local addresses
			// stay tentative for a second or two (TESTING.md).
			return noDAD(name, "default", "all")
		}
	}
	return fmt.Errorf("creating namespace %s: %w", name, err)
}

// PortDown takes n's switch port down: "the node dies" as far as the segment
// is concerned, and n sees its link lose carrier.
func (l *Lab) PortDown(t testing.TB, n *Node) {
	t.Helper()
	l.mustIP(t, "-n", l.Switch, "link", "set", n.Port, "down")
}

// PortUp brings n's switch port back.
func (l *Lab) PortUp(t testing.TB, n *Node) {
	t.Helper()
	l.mustIP(t, "-n", l.Switch, "link", "set", n.Port, "up")
}

// Partition splits the segment: group i (counting from 1) is moved to its
// own bridge br<i>, so groups no longer hear each other while every link
// keeps its carrier. Nodes named in no group stay on br0. Heal undoes it.
func (l *Lab) Partition(t testing.TB, groups ...[]*Node) {
	t.Helper()
	seen := map[*Node]bool{}
	for _, g := range groups {
		for _, n := range g {
			if n.lab != l {
				t.Fatalf("netlab.Partition: node %s is not part of lab %s", n.Name, l.Prefix)
			}
			if seen[n] {
				t.Fatalf("netlab.Partition: node %s is in more than one group", n.Name)
			}
			seen[n] = true
		}
	}
	for i, g := range groups {
		br := "br" + strconv.Itoa(i+1)
		if !l.hasBridge(br) {
			l.mustIP(t, "-n", l.Switch, "link", "add", br, "type", "bridge",
				"forward_delay", "0", "mcast_snooping", "0")
			l.mustIP(t, "-n", l.Switch, "link", "set", br, "up")
			l.mu.Lock()
			l.bridges = append(l.bridges, br)
			l.mu.Unlock()
		}
		for _, n := range g {
			l.mustIP(t, "-n", l.Switch, "link", "set", n.Port, "master", br)
		}
	}
}

// Heal puts every port back on br0 and removes the bridges Partition made.
func (l *Lab) Heal(t testing.TB) {
	t.Helper()
	for _, n := range l.all() {
		l.mustIP(t, "-n", l.Switch, "link", "set", n.Port, "master", bridgeName)
	}
	l.mu.Lock()
	bridges := l.bridges
	l.bridges = nil
	l.mu.Unlock()
	for _, br := range bridges {
		l.mustIP(t, "-n", l.Switch, "link", "del", br)
	}
}

func (l *Lab) hasBridge(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.bridges {
		if b == name {
			return true
		}
	}
	return false
}

// all returns the nodes and the client.
func (l *Lab) all() []*Node {
	nodes := append([]*Node(nil), l.Nodes...)
	if l.Client != nil {
		nodes = append(nodes, l.Client)
	}
	return nodes
}

// track records a process to kill at teardown.
func (l *Lab) track(p *Process) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.procs = append(l.procs, p)
}

// teardown kills every process of the lab (the ones it started, then any
// other process left in its namespaces, such as forked children) and deletes
// the namespaces. It reports failures without stopping half-way.
func (l *Lab) teardown(t testing.TB) {
	l.mu.Lock()
	procs := l.procs
	namespaces := l.namespaces
	l.procs, l.namespaces = nil, nil
	l.mu.Unlock()

	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { p.Stop(killGrace) })
	}
	wg.Wait()

	for _, ns := range namespaces {
		if err := killNamespacePids(ns); err != nil {
			t.Errorf("netlab teardown: %v", err)
		}
	}
	for _, ns := range namespaces {
		if _, err := runIP("netns", "del", ns); err != nil {
			t.Errorf("netlab teardown: deleting namespace %s: %v", ns, err)
		}
	}
	os.Remove(filepath.Join(ownersDir, l.Prefix))
}

// ownersDir holds one file per live lab, named by its prefix and holding the
// pid of the test binary that built it. A binary killed before its cleanups
// ran (go test -timeout, a SIGKILL) leaves its lab behind; the next New
// removes labs whose owner is gone.
const ownersDir = "/run/hasidecar-netlab"

func claim(prefix string) error {
	if err := os.MkdirAll(ownersDir, 0o755); err != nil {
		return fmt.Errorf("recording the lab's owner: %w", err)
	}
	// Written aside and renamed: a sweeper in another test process must
	// never read the file empty and take the lab for abandoned.
	tmp := filepath.Join(ownersDir, "."+prefix)
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("recording the lab's owner: %w", err)
	}
	return os.Rename(tmp, filepath.Join(ownersDir, prefix))
}

// sweepStale removes the namespaces of labs whose owner process has exited.
func sweepStale(t testing.TB) {
	entries, _ := os.ReadDir(ownersDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // being claimed
		}
		b, err := os.ReadFile(filepath.Join(ownersDir, e.Name()))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			continue // not a file claim wrote: leave it alone
		}
		if pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue // its owner is alive
		}
		prefix := e.Name()
		out, _ := runIP("netns", "list")
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || !strings.HasPrefix(f[0], prefix) {
				continue
			}
			rest := strings.TrimPrefix(f[0], prefix)
			if _, err := strconv.Atoi(rest); err != nil && rest != "sw" && rest != "c" {
				continue
			}
			_ = killNamespacePids(f[0])
			if _, err := runIP("netns", "del", f[0]); err == nil {
				t.Logf("netlab: removed namespace %s left by exited test process %d", f[0], pid)
			}
		}
		os.Remove(filepath.Join(ownersDir, prefix))
	}
}

// killNamespacePids SIGKILLs every process left in namespace ns, by pid, and
// waits for them to go. Only the lab's own processes can be in its namespaces;
// this test binary is spared in case one of its threads is inside.
func killNamespacePids(ns string) error {
	deadline := time.Now().Add(killGrace)
	for {
		out, err := runIP("netns", "pids", ns)
		if err != nil {
			return fmt.Errorf("listing processes in namespace %s: %w", ns, err)
		}
		var left []int
		for _, f := range strings.Fields(out) {
			pid, err := strconv.Atoi(f)
			if err != nil || pid == os.Getpid() {
				continue
			}
			left = append(left, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v in namespace %s survive SIGKILL", left, ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mustIP runs `ip ARGS...` and fails the test with its output on error.
func (l *Lab) mustIP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := runIP(args...)
	if err != nil {
		t.Fatalf("lab %s: %v", l.Prefix, err)
	}
	return out
}

// runIP runs `ip ARGS...` and returns its standard output; the error carries
// the command line and its standard error.
func runIP(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ipTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
