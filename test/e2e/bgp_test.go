package e2e

// The BGP tests (issue 14): hasidecar nodes with nginx announce a VIP over
// BGP to FRRouting acting as their top-of-rack router (node 1 of the lab,
// zebra and bgpd in its namespace), and a client behind that router, on a
// segment of its own, fetches pages through it. What the router does is read
// from its kernel's routing table: the route the client's packets follow.

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

var (
	// bgpVIP is what the nodes announce; the router accepts host routes
	// from netlab.AnnounceNet.
	bgpVIP  = netip.MustParsePrefix("203.0.113.100/32")
	bgpVIP2 = netip.MustParsePrefix("203.0.113.101/32")
	// bgpVIP6 is the IPv6 VIP, from netlab.AnnounceNet6.
	bgpVIP6 = netip.MustParsePrefix("2001:db8:52::100/128")
)

const (
	routerASN = 65000
	nodeASN   = 65010
	// bgpHold is the nodes' hold time: short, so that the vanished-node
	// test ends soon; keepalives go every 3 s.
	bgpHold = 9 * time.Second
)

// bgpLab is a lab whose node 1 is the router and whose other nodes run
// nginx, and hasidecar once a test starts it.
type bgpLab struct {
	lab    *netlab.Lab
	router *netlab.Router
	nodes  []*netlab.Node
	webs   []*netlab.Nginx
	// password, if set, is the nodes' TCP MD5 password for the router.
	password string
	// extraPeers are peer blocks added to the nodes' bgp block after tor1
	// (peer6, for one).
	extraPeers string
}

// peer6 is the peer block "tor1-v6": the router's IPv6 address, for the
// IPv6 routes (tor1, an IPv4 session, carries the IPv4 ones).
func (b *bgpLab) peer6() string {
	return fmt.Sprintf("  peer \"tor1-v6\" {\n    address   = %q\n    asn       = %d\n    hold_time = %q\n  }\n",
		b.router.Addr6, routerASN, bgpHold.String())
}

// newBGPLab builds a router and n nginx nodes behind it.
func newBGPLab(t *testing.T, n int) *bgpLab {
	t.Helper()
	netlab.RequireFRR(t)
	netlab.RequireNginx(t)
	lab := netlab.New(t, n+1)
	b := &bgpLab{lab: lab, nodes: lab.Nodes[1:]}
	var peers, peers6 []netip.Addr
	for _, node := range b.nodes {
		peers = append(peers, node.Addr)
		peers6 = append(peers6, node.Addr6)
	}
	b.router = lab.StartRouter(t, lab.Nodes[0], netlab.RouterConfig{ASN: routerASN, PeerASN: nodeASN, Peers: peers, Peers6: peers6})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("router's bgpd log:\n%s", b.router.BGPD.Log())
		}
	})
	for _, node := range b.nodes {
		b.webs = append(b.webs, node.StartNginx(t))
	}
	return b
}

// bgpNodeConfig renders a node's configuration: its bgp block peering with
// the router, the nginx check (every 100 ms, two failures to fail) and body
// (bgp_announce or vrrp_instance blocks).
func (b *bgpLab) bgpNodeConfig(d *daemon, body string) string {
	checks, _ := nginxCheck(100*time.Millisecond, 2)
	password := ""
	if b.password != "" {
		password = fmt.Sprintf("\n    password  = %q", b.password)
	}
	return fmt.Sprintf(`node_name = %q
log_level = "debug"
log_format = "console"
control { socket = %q }
metrics { listen = "127.0.0.1:9465" }
bgp {
  asn       = %d
  router_id = %q
  peer "tor1" {
    address   = %q
    asn       = %d
    hold_time = %q%s
  }
%s}
%s
%s`, d.node.Name, d.socket, nodeASN, d.node.Addr, b.router.Addr, routerASN, bgpHold.String(), password, b.extraPeers, checks, body)
}

// startBGPNode runs hasidecar on n with body after the bgp block.
func (b *bgpLab) startBGPNode(t *testing.T, n *netlab.Node, body string) *daemon {
	t.Helper()
	dir := t.TempDir()
	d := &daemon{node: n, config: filepath.Join(dir, "hasidecar.hcl"), socket: filepath.Join(dir, "hasidecar.sock")}
	b.rewrite(t, d, body)
	d.proc = n.Start(t, binary, "run", "--config", d.config)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hasidecar log of %s:\n%s", n.Name, d.proc.Log())
		}
	})
	return d
}

// rewrite replaces d's configuration file (for a reload).
func (b *bgpLab) rewrite(t *testing.T, d *daemon, body string) {
	t.Helper()
	if err := os.WriteFile(d.config, []byte(b.bgpNodeConfig(d, body)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// anycast is a bgp_announce of prefixes gated by the nginx check.
func anycast(name string, prefixes ...netip.Prefix) string {
	q := make([]string, len(prefixes))
	for i, p := range prefixes {
		q[i] = fmt.Sprintf("%q", p.String())
	}
	return fmt.Sprintf("bgp_announce %q {\n  prefixes = [%s]\n  track_check \"nginx\" {}\n}\n", name, strings.Join(q, ", "))
}

// startAnycast runs hasidecar announcing bgpVIP on every node and waits
// until the router's route to it goes via all of them.
func (b *bgpLab) startAnycast(t *testing.T) []*daemon {
	t.Helper()
	var ds []*daemon
	for _, n := range b.nodes {
		ds = append(ds, b.startBGPNode(t, n, anycast("anycast", bgpVIP)))
	}
	took := b.router.WaitNexthops(t, bgpVIP, b.addrs(b.nodes...), 60*time.Second)
	t.Logf("router routes %s via %v %v after the daemons started:\n%s", bgpVIP, b.addrs(b.nodes...), took, b.router.KernelRoute(t, bgpVIP))
	return ds
}

func (b *bgpLab) addrs(ns ...*netlab.Node) []netip.Addr {
	out := []netip.Addr{}
	for _, n := range ns {
		out = append(out, n.Addr)
	}
	return out
}

// vipURL is the page the client behind the router fetches.
var vipURL = "http://" + bgpVIP.Addr().String() + "/"

// responders fetches the page n times from the client behind the router,
// each over a new connection, and counts the answers by node.
func (b *bgpLab) responders(t *testing.T, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		code, body, err := b.router.Client.HTTPGet(vipURL, 2*time.Second)
		if err != nil || code != 200 {
			t.Fatalf("client behind the router: GET %s: %d %v", vipURL, code, err)
		}
		seen[strings.TrimSpace(body)]++
	}
	return seen
}

// jsonStatus is the part of `hasidecar status --json` the BGP tests read.
type jsonStatus struct {
	BGP *struct {
		Peers []struct {
			Name        string `json:"name"`
			Address     string `json:"address"`
			ASN         uint32 `json:"asn"`
			State       string `json:"state"`
			Established bool   `json:"established"`
			UpSince     string `json:"up_since"`
			Advertised  int    `json:"advertised"`
		} `json:"peers"`
		Announced []string `json:"announced"`
	} `json:"bgp"`
}

// statusJSON runs `hasidecar status --json` against d, as a user would.
func (d *daemon) statusJSON(t *testing.T) (jsonStatus, string) {
	t.Helper()
	out, err := exec.Command(binary, "status", "--config", d.config, "--json").Output()
	if err != nil {
		t.Fatalf("status --json of %s: %v\n%s", d.node.Name, err, out)
	}
	var st jsonStatus
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("status --json of %s is not JSON: %v\n%s", d.node.Name, err, out)
	}
	if st.BGP == nil {
		t.Fatalf("status --json of %s has no bgp:\n%s", d.node.Name, out)
	}
	return st, string(out)
}

// waitEstablished waits until d's status shows its one peer established
// and advertising `advertised` prefixes.
func (d *daemon) waitEstablished(t *testing.T, advertised int, timeout time.Duration) jsonStatus {
	t.Helper()
	var out string
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		var st jsonStatus
		st, out = d.statusJSON(t)
		if len(st.BGP.Peers) == 1 && st.BGP.Peers[0].Established && st.BGP.Peers[0].Advertised == advertised {
			return st
		}
	}
	t.Fatalf("%s: peer not established with %d prefixes advertised after %v:\n%s", d.node.Name, advertised, timeout, out)
	return jsonStatus{}
}

// kill kills nginx in the background and returns a channel closed once it
// is gone: Kill also waits for the workers' exit to be seen, which on a
// loaded machine takes longer than the reaction being measured.
func kill(t *testing.T, web *netlab.Nginx) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		web.Kill(t)
	}()
	return done
}

// boundOnLo reports whether addr is bound to n's loopback interface.
func boundOnLo(t *testing.T, n *netlab.Node, addr netip.Addr) bool {
	t.Helper()
	out := n.Run(t, "ip", "-o", "-4", "addr", "show", "dev", "lo")
	return strings.Contains(out, " "+addr.String()+"/")
}

// TestBGPAnycastServesThroughTheRouter: two healthy nodes announce the VIP;
// the router installs it with both as next hops, its client reaches nginx
// through it and, over new connections, is answered by both (ECMP hashing
// on ports); status --json and /metrics show the session and the prefix.
func TestBGPAnycastServesThroughTheRouter(t *testing.T) {
	t.Parallel()
	b := newBGPLab(t, 2)
	ds := b.startAnycast(t)
	for _, n := range b.nodes {
		if !boundOnLo(t, n, bgpVIP.Addr()) {
			t.Errorf("%s: %s not bound to lo while announced", n.Name, bgpVIP.Addr())
		}
	}

	seen := b.responders(t, 40)
	t.Logf("40 new connections from the client behind the router answered by %v", seen)
	for _, n := range b.nodes {
		if seen[n.Name] == 0 {
			t.Errorf("ECMP: %s never answered 40 new connections: %v", n.Name, seen)
		}
	}

	st := ds[0].waitEstablished(t, 1, 10*time.Second)
	p := st.BGP.Peers[0]
	if p.Name != "tor1" || p.Address != b.router.Addr.String() || p.ASN != routerASN || p.State != "ESTABLISHED" {
		t.Errorf("status peer %+v; want tor1 %s AS %d ESTABLISHED", p, b.router.Addr, routerASN)
	}
	if _, err := time.Parse(time.RFC3339, p.UpSince); err != nil {
		t.Errorf("up_since %q is not RFC 3339: %v", p.UpSince, err)
	}
	if len(st.BGP.Announced) != 1 || st.BGP.Announced[0] != bgpVIP.String() {
		t.Errorf("status announced %v; want [%s]", st.BGP.Announced, bgpVIP)
	}

	// name, a label the sample must carry (or ""), and its value.
	want := [][3]string{
		{"hasidecar_bgp_peer_up", `peer="tor1"`, "1"},
		{"hasidecar_bgp_prefixes_advertised", `peer="tor1"`, "1"},
		{"hasidecar_bgp_announced_prefixes", "", "1"},
	}
	var body string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		_, body, _ = b.nodes[0].HTTPGet("http://127.0.0.1:9465/metrics", time.Second)
		missing := 0
		for _, w := range want {
			if !hasSample(body, w[0], w[1], w[2]) {
				missing++
			}
		}
		if missing == 0 {
			return
		}
	}
	for _, w := range want {
		if !hasSample(body, w[0], w[1], w[2]) {
			t.Errorf("/metrics lacks %s{%s} %s:\n%s", w[0], w[1], w[2], body)
		}
	}
}

// hasSample reports whether a Prometheus text exposition has a sample of
// metric name whose labels include label (any other labels allowed) and
// whose value is value.
func hasSample(body, name, label, value string) bool {
	for _, line := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		labels, v := "", strings.TrimSpace(rest)
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			labels, v = rest[1:end], strings.TrimSpace(rest[end+1:])
		}
		if label != "" && !slices.Contains(strings.Split(labels, ","), label) {
			continue
		}
		if v == value {
			return true
		}
	}
	return false
}

// TestBGPAnycastNginxDeathWithdraws: nginx dies on one node; within a few
// check intervals the router's route no longer goes there and the client is
// served by the other node; nginx back, the node announces again.
func TestBGPAnycastNginxDeathWithdraws(t *testing.T) {
	t.Parallel()
	b := newBGPLab(t, 2)
	b.startAnycast(t)
	n1, n2 := b.nodes[0], b.nodes[1]
	client := b.router.Client.StartHTTPProber(t, vipURL, 10*time.Millisecond)
	time.Sleep(500 * time.Millisecond)

	start := time.Now()
	killed := kill(t, b.webs[0])
	b.router.WaitNexthops(t, bgpVIP, b.addrs(n2), 10*time.Second)
	took := time.Since(start)
	<-killed
	t.Logf("route via %s withdrawn %v after nginx was killed there", n1.Addr, took)
	if took > 3*time.Second {
		t.Errorf("withdrawal took %v; the check fails within 300 ms", took)
	}
	before := client.Stats().OK
	time.Sleep(time.Second)
	if s := client.Stats(); s.OK < before+20 || s.LastBody != n2.Name {
		t.Fatalf("client not served by %s after the withdrawal: %v", n2.Name, s)
	}

	b.webs[0].Restart(t)
	took = b.router.WaitNexthops(t, bgpVIP, b.addrs(n1, n2), 10*time.Second)
	t.Logf("route via %s back %v after nginx restarted", n1.Addr, took)
	s := client.Stop()
	t.Logf("client: %v", s)
	if s.LongestGap > 3*time.Second {
		t.Errorf("client outage %v", s.LongestGap)
	}
}

// TestBGPSigtermWithdrawsAtOnce: a daemon told to stop withdraws its route
// before it exits, seconds before the 9 s hold time would, and unbinds the
// VIP from lo.
func TestBGPSigtermWithdrawsAtOnce(t *testing.T) {
	t.Parallel()
	b := newBGPLab(t, 2)
	ds := b.startAnycast(t)
	n1, n2 := b.nodes[0], b.nodes[1]

	start := time.Now()
	if err := ds[0].proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	took := b.router.WaitNexthops(t, bgpVIP, b.addrs(n2), bgpHold)
	t.Logf("route via %s gone %v after SIGTERM", n1.Addr, took)
	if took > bgpHold/3 {
		t.Errorf("withdrawal took %v: not at once (hold time %v)", took, bgpHold)
	}
	if exited, err := ds[0].proc.WaitTimeout(10 * time.Second); !exited {
		t.Fatal("hasidecar still running 10 s after SIGTERM")
	} else if err != nil {
		t.Errorf("hasidecar exited with %v after SIGTERM", err)
	}
	t.Logf("daemon exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	if boundOnLo(t, n1, bgpVIP.Addr()) {
		t.Errorf("%s still bound to lo of %s after the daemon stopped", bgpVIP.Addr(), n1.Name)
	}
	if seen := b.responders(t, 10); seen[n2.Name] != 10 {
		t.Errorf("client not served by %s alone: %v", n2.Name, seen)
	}
}

// TestBGPVanishedNodeDroppedAtHoldTime: a node whose switch port goes down
// says nothing; the router keeps its route until the hold time (9 s, from
// the last keepalive, sent every 3 s) expires, then drops it.
func TestBGPVanishedNodeDroppedAtHoldTime(t *testing.T) {
	t.Parallel()
	b := newBGPLab(t, 2)
	b.startAnycast(t)
	n1, n2 := b.nodes[0], b.nodes[1]

	b.lab.PortDown(t, n1)
	start := time.Now()
	// The last keepalive came at most 3 s before the port went down: the
	// route stays for at least 6 s more. 3 s leaves a wide margin.
	time.Sleep(3 * time.Second)
	if hops := b.router.Nexthops(t, bgpVIP); len(hops) != 2 {
		t.Fatalf("router changed its route %v after the port went down: not the hold timer (%v)", time.Since(start), hops)
	}
	b.router.WaitNexthops(t, bgpVIP, b.addrs(n2), 3*bgpHold)
	took := time.Since(start)
	t.Logf("router dropped %s %v after its port went down (hold time %v)", n1.Addr, took.Round(time.Millisecond), bgpHold)
	if took > bgpHold+5*time.Second {
		t.Errorf("dropped after %v, well past the hold time %v", took, bgpHold)
	}
	if seen := b.responders(t, 10); seen[n2.Name] != 10 {
		t.Errorf("client not served by %s alone: %v", n2.Name, seen)
	}
}

// vrrpBGP is a vrrp_instance announcing its VIP over BGP while master,
// tracking nginx (weight -60: 150 falls below 100).
func vrrpBGP(priority, backupMED int) string {
	return vrrpBGPOf(bgpVIP, priority, backupMED)
}

// vrrpBGPOf is vrrpBGP with vip as the instance's one virtual IP.
func vrrpBGPOf(vip netip.Prefix, priority, backupMED int) string {
	med := ""
	if backupMED > 0 {
		med = fmt.Sprintf("  backup_med = %d\n", backupMED)
	}
	return fmt.Sprintf(`vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = %d
  version           = 3
  advert_interval   = "100ms"
  preempt           = true
  virtual_ips       = [%q]
  announce          = "bgp"
%s  track_check "nginx" { weight = -60 }
}
`, priority, vip.String(), med)
}

// TestBGPVRRPMasterAnnounces: with announce = "bgp" only the VRRP master's
// route is in the router's table; after the master's nginx dies, the new
// master's route replaces it. With backup_med the backup's route is in the
// router's BGP table too, with the worse MED, but only the master's is used.
func TestBGPVRRPMasterAnnounces(t *testing.T) {
	for _, med := range []int{0, 100} {
		t.Run(fmt.Sprintf("backup_med=%d", med), func(t *testing.T) {
			t.Parallel()
			b := newBGPLab(t, 2)
			n1, n2 := b.nodes[0], b.nodes[1]
			d1 := b.startBGPNode(t, n1, vrrpBGP(150, med))
			if err := n1.WaitAddress(t, bgpVIP.Addr(), true, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			b.startBGPNode(t, n2, vrrpBGP(100, med))
			took := b.router.WaitNexthops(t, bgpVIP, b.addrs(n1), 60*time.Second)
			t.Logf("router routes %s via the master %s after %v", bgpVIP, n1.Addr, took)
			if med > 0 {
				out := b.router.BGPD.WaitShow(t, "show bgp ipv4 unicast "+bgpVIP.String(), "metric 100", true, 30*time.Second)
				t.Logf("router's BGP table:\n%s", out)
			}
			// Settled: still only the master after a while; the backup's
			// path, if announced, has the backup MED and is not used.
			time.Sleep(time.Second)
			b.router.WaitNexthops(t, bgpVIP, b.addrs(n1), time.Second)
			paths := b.router.BGPPaths(t, bgpVIP)
			for _, p := range paths {
				switch {
				case p.Peer == n1.Addr && (!p.Best || p.MED != 0):
					t.Errorf("master's path %+v; want best with MED 0", p)
				case p.Peer == n2.Addr && (p.Best || p.Multipath || p.MED != uint32(med)):
					t.Errorf("backup's path %+v; want unused with MED %d", p, med)
				}
			}
			if want := map[bool]int{true: 2, false: 1}[med > 0]; len(paths) != want {
				t.Errorf("router has %d paths to %s, want %d: %+v", len(paths), bgpVIP, want, paths)
			}
			if seen := b.responders(t, 10); seen[n1.Name] != 10 {
				t.Errorf("client not served by the master %s alone: %v", n1.Name, seen)
			}
			if st, _ := d1.statusJSON(t); len(st.BGP.Announced) != 1 || st.BGP.Announced[0] != bgpVIP.String() {
				t.Errorf("master's status announced %v", st.BGP.Announced)
			}

			start := time.Now()
			killed := kill(t, b.webs[0])
			b.router.WaitNexthops(t, bgpVIP, b.addrs(n2), 10*time.Second)
			took = time.Since(start)
			<-killed
			t.Logf("router routes %s via the new master %s %v after nginx died on the old one", bgpVIP, n2.Addr, took)
			if seen := b.responders(t, 10); seen[n2.Name] != 10 {
				t.Errorf("client not served by the new master %s alone: %v", n2.Name, seen)
			}
			time.Sleep(time.Second)
			t.Logf("router's paths after the failover: %+v", b.router.BGPPaths(t, bgpVIP))
		})
	}
}

// TestBGPReloadKeepsTheSession: a reload that adds a bgp_announce announces
// its prefix on the session that is up, without resetting it.
func TestBGPReloadKeepsTheSession(t *testing.T) {
	t.Parallel()
	b := newBGPLab(t, 1)
	n := b.nodes[0]
	d := b.startBGPNode(t, n, anycast("anycast", bgpVIP))
	b.router.WaitNexthops(t, bgpVIP, b.addrs(n), 60*time.Second)
	before := d.waitEstablished(t, 1, 10*time.Second).BGP.Peers[0]

	b.rewrite(t, d, anycast("anycast", bgpVIP)+anycast("second", bgpVIP2))
	if code, out := d.reload(t); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	took := b.router.WaitNexthops(t, bgpVIP2, b.addrs(n), 10*time.Second)
	t.Logf("router routes %s %v after the reload", bgpVIP2, took)
	after := d.waitEstablished(t, 2, 10*time.Second).BGP.Peers[0]
	if after.UpSince != before.UpSince {
		t.Errorf("the reload reset the session: up since %s, before %s", after.UpSince, before.UpSince)
	}
	if hops := b.router.Nexthops(t, bgpVIP); len(hops) != 1 {
		t.Errorf("router lost %s over the reload", bgpVIP)
	}
	if !boundOnLo(t, n, bgpVIP2.Addr()) {
		t.Errorf("%s not bound to lo after the reload", bgpVIP2.Addr())
	}

	// And removing it withdraws it, still on the same session.
	b.rewrite(t, d, anycast("anycast", bgpVIP))
	if code, out := d.reload(t); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	b.router.WaitNexthops(t, bgpVIP2, nil, 10*time.Second)
	if after := d.waitEstablished(t, 1, 10*time.Second).BGP.Peers[0]; after.UpSince != before.UpSince {
		t.Errorf("the second reload reset the session: up since %s, before %s", after.UpSince, before.UpSince)
	}
}

// TestBGPReloadRemovesAndAddsTheBGPBlock: a reload without the bgp block
// withdraws the routes and closes the session; one that brings it back
// announces them again, twice over, on the GoBGP server the daemon keeps.
func TestBGPReloadRemovesAndAddsTheBGPBlock(t *testing.T) {
	t.Parallel()
	b := newBGPLab(t, 1)
	n := b.nodes[0]
	d := b.startBGPNode(t, n, anycast("anycast", bgpVIP))
	b.router.WaitNexthops(t, bgpVIP, b.addrs(n), 60*time.Second)
	d.waitEstablished(t, 1, 10*time.Second)
	withBGP, err := os.ReadFile(d.config)
	if err != nil {
		t.Fatal(err)
	}
	checks, _ := nginxCheck(100*time.Millisecond, 2)
	withoutBGP := fmt.Sprintf("node_name = %q\ncontrol { socket = %q }\n%s", n.Name, d.socket, checks)
	for i := 0; i < 2; i++ {
		if err := os.WriteFile(d.config, []byte(withoutBGP), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out := d.reload(t); code != 0 {
			t.Fatalf("reload without bgp: exit %d\n%s", code, out)
		}
		took := b.router.WaitNexthops(t, bgpVIP, nil, 10*time.Second)
		t.Logf("round %d: route withdrawn %v after the bgp block went", i+1, took)
		if st := d.status(t); st.BGP != nil {
			t.Fatalf("status still shows bgp after it was removed: %+v", st.BGP)
		}
		if err := os.WriteFile(d.config, withBGP, 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out := d.reload(t); code != 0 {
			t.Fatalf("reload with bgp again: exit %d\n%s", code, out)
		}
		took = b.router.WaitNexthops(t, bgpVIP, b.addrs(n), 30*time.Second)
		t.Logf("round %d: route back %v after the bgp block returned", i+1, took)
		d.waitEstablished(t, 1, 10*time.Second)
	}
}

// TestBGPRouterRestartGetsTheRoutesAgain: the router's bgpd restarts; the
// node dials it again and announces what it announces now.
func TestBGPRouterRestartGetsTheRoutesAgain(t *testing.T) {
	t.Parallel()
	b := newBGPLab(t, 1)
	n := b.nodes[0]
	d := b.startBGPNode(t, n, anycast("anycast", bgpVIP))
	b.router.WaitNexthops(t, bgpVIP, b.addrs(n), 60*time.Second)

	b.router.RestartBGPD(t)
	took := b.router.WaitNexthops(t, bgpVIP, b.addrs(n), 60*time.Second)
	t.Logf("route back %v after the router's bgpd restarted", took)
	d.waitEstablished(t, 1, 10*time.Second)
	if seen := b.responders(t, 5); seen[n.Name] != 5 {
		t.Errorf("client not served by %s: %v", n.Name, seen)
	}
}

// TestBGPPassword: a session with a TCP MD5 password comes up only when both
// sides agree; a reload that corrects the node's password brings it up.
func TestBGPPassword(t *testing.T) {
	netlab.RequireFRR(t)
	netlab.RequireNginx(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n := lab.Nodes[1]
	router := lab.StartRouter(t, lab.Nodes[0], netlab.RouterConfig{ASN: routerASN, PeerASN: nodeASN,
		Peers: []netip.Addr{n.Addr}, Extra: " neighbor hasidecar password s3cret\n"})
	b := &bgpLab{lab: lab, router: router, nodes: []*netlab.Node{n}, webs: []*netlab.Nginx{n.StartNginx(t)}, password: "wrong"}
	body := anycast("anycast", bgpVIP)
	d := b.startBGPNode(t, n, body)
	time.Sleep(5 * time.Second)
	if st, out := d.statusJSON(t); len(st.BGP.Peers) != 1 || st.BGP.Peers[0].Established {
		t.Fatalf("session established with the wrong password:\n%s", out)
	}
	if hops := router.Nexthops(t, bgpVIP); len(hops) != 0 {
		t.Fatalf("router learned %s over a session with the wrong password", bgpVIP)
	}
	b.password = "s3cret"
	b.rewrite(t, d, body)
	if code, out := d.reload(t); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	took := router.WaitNexthops(t, bgpVIP, b.addrs(n), 60*time.Second)
	t.Logf("route learned %v after the reload with the right password", took)
	d.waitEstablished(t, 1, 10*time.Second)
}

// waitPeers polls d's status until ok holds for it.
func (d *daemon) waitPeers(t *testing.T, what string, timeout time.Duration, ok func(jsonStatus) bool) jsonStatus {
	t.Helper()
	var out string
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		var st jsonStatus
		st, out = d.statusJSON(t)
		if ok(st) {
			return st
		}
	}
	t.Fatalf("%s: not %s after %v:\n%s", d.node.Name, what, timeout, out)
	return jsonStatus{}
}

// TestBGPIPv6AnycastServesThroughTheRouter: dual stack. Each node has two
// sessions with the router, tor1 (IPv4) and tor1-v6 (IPv6), and one
// bgp_announce of an IPv4 /32 and an IPv6 /128. The router installs the
// /128 via both nodes' IPv6 addresses (the speaker's "::" next hop became
// each session's local address), its client pings the VIP over IPv6
// through it (nginx in the lab listens on IPv4 only), and when nginx dies on
// one node both its routes leave the router.
func TestBGPIPv6AnycastServesThroughTheRouter(t *testing.T) {
	t.Parallel()
	b := newBGPLab(t, 2)
	b.extraPeers = b.peer6()
	n1, n2 := b.nodes[0], b.nodes[1]
	var ds []*daemon
	for _, n := range b.nodes {
		ds = append(ds, b.startBGPNode(t, n, anycast("anycast", bgpVIP, bgpVIP6)))
	}
	took := b.router.WaitNexthops(t, bgpVIP6, []netip.Addr{n1.Addr6, n2.Addr6}, 60*time.Second)
	t.Logf("router routes %s via both nodes %v after the daemons started:\n%s", bgpVIP6, took, b.router.KernelRoute(t, bgpVIP6))
	b.router.WaitNexthops(t, bgpVIP, b.addrs(n1, n2), 10*time.Second)
	for _, n := range b.nodes {
		if !n.HasAddressOn(t, "lo", bgpVIP6.Addr()) {
			t.Errorf("%s: %s not bound to lo while announced", n.Name, bgpVIP6.Addr())
		}
	}
	if err := b.router.Client.Ping(bgpVIP6.Addr(), 5*time.Second); err != nil {
		t.Fatalf("client behind the router cannot reach %s: %v", bgpVIP6.Addr(), err)
	}
	url6 := "http://[" + bgpVIP6.Addr().String() + "]/"
	if code, body, err := b.router.Client.HTTPGet(url6, 2*time.Second); err != nil || code != 200 {
		t.Fatalf("client behind the router: GET %s: %d %v", url6, code, err)
	} else {
		t.Logf("GET %s served by %s", url6, strings.TrimSpace(body))
	}
	paths := b.router.BGPPaths(t, bgpVIP6)
	if len(paths) != 2 || !paths[0].Multipath || !paths[1].Multipath {
		t.Errorf("BGP paths to %s: %+v; want two multipaths", bgpVIP6, paths)
	}
	for _, p := range paths {
		if p.Peer != n1.Addr6 && p.Peer != n2.Addr6 {
			t.Errorf("path to %s from %s: not over a node's IPv6 session", bgpVIP6, p.Peer)
		}
	}
	// Each session carries its own family's route: one prefix each.
	st := ds[0].waitPeers(t, "established on both sessions with one prefix each", 10*time.Second, func(st jsonStatus) bool {
		if len(st.BGP.Peers) != 2 {
			return false
		}
		for _, p := range st.BGP.Peers {
			if !p.Established || p.Advertised != 1 {
				return false
			}
		}
		return true
	})
	if p := st.BGP.Peers[1]; p.Name != "tor1-v6" || p.Address != b.router.Addr6.String() {
		t.Errorf("status peer %+v; want tor1-v6 at %s", p, b.router.Addr6)
	}
	if want := []string{bgpVIP6.String(), bgpVIP.String()}; !slices.Equal(st.BGP.Announced, want) { // sorted as strings
		t.Errorf("status announced %v; want %v", st.BGP.Announced, want)
	}

	pinger := b.router.Client.StartPinger(t, bgpVIP6.Addr(), 10*time.Millisecond)
	start := time.Now()
	killed := kill(t, b.webs[0])
	b.router.WaitNexthops(t, bgpVIP6, []netip.Addr{n2.Addr6}, 10*time.Second)
	took = time.Since(start)
	b.router.WaitNexthops(t, bgpVIP, b.addrs(n2), 10*time.Second)
	<-killed
	t.Logf("route to %s via %s withdrawn %v after nginx was killed there", bgpVIP6, n1.Addr6, took)
	if took > 3*time.Second {
		t.Errorf("withdrawal took %v; the check fails within 300 ms", took)
	}
	time.Sleep(500 * time.Millisecond)
	ps := pinger.Stop()
	t.Logf("client pinging %s every 10 ms meanwhile: %+v", bgpVIP6.Addr(), ps)
	if err := b.router.Client.Ping(bgpVIP6.Addr(), 5*time.Second); err != nil {
		t.Errorf("client cannot reach %s via %s: %v", bgpVIP6.Addr(), n2.Name, err)
	}
	// Every new connection now reaches the node whose nginx lives.
	for i := 0; i < 10; i++ {
		code, body, err := b.router.Client.HTTPGet(url6, 2*time.Second)
		if err != nil || code != 200 || strings.TrimSpace(body) != n2.Name {
			t.Fatalf("GET %s after nginx died on %s: %d %q %v; want %s", url6, n1.Name, code, body, err, n2.Name)
		}
	}
}

// routerSessions reads from the router's bgpd how many times its session
// with peer came up and went down: a session that a reload kept shows the
// same counts after it, whatever the clock.
func (b *bgpLab) routerSessions(t *testing.T, peer netip.Addr) (established, dropped int) {
	t.Helper()
	out := b.router.BGPD.Show(t, "show bgp neighbors "+peer.String()+" json")
	var n map[string]struct {
		Established int `json:"connectionsEstablished"`
		Dropped     int `json:"connectionsDropped"`
	}
	if err := json.Unmarshal([]byte(out), &n); err != nil {
		t.Fatalf("bgpd's JSON for neighbour %s: %v\n%s", peer, err, out)
	}
	s, ok := n[peer.String()]
	if !ok {
		t.Fatalf("bgpd knows no neighbour %s:\n%s", peer, out)
	}
	return s.Established, s.Dropped
}

// TestBGPReloadAddsAndRemovesPeers: a reload adds two peers, the router's
// IPv6 address (a session that comes up and gets the IPv6 route) and an
// address where nothing answers (a session that stays down), and a second
// reload removes both; the first session, tor1, is never reset: its
// up_since and the router's count of its connections stay the same.
func TestBGPReloadAddsAndRemovesPeers(t *testing.T) {
	t.Parallel()
	b := newBGPLab(t, 1)
	n := b.nodes[0]
	body := anycast("anycast", bgpVIP, bgpVIP6)
	d := b.startBGPNode(t, n, body)
	b.router.WaitNexthops(t, bgpVIP, b.addrs(n), 60*time.Second)
	before := d.waitEstablished(t, 1, 10*time.Second).BGP.Peers[0]
	est, drop := b.routerSessions(t, n.Addr)
	if est != 1 || drop != 0 {
		t.Fatalf("router saw tor1 come up %d times and drop %d times; want 1 and 0", est, drop)
	}
	// A reset would show in up_since only if it came in a later second.
	time.Sleep(1100 * time.Millisecond)

	silent := netlab.Address(250) // on the segment; nobody has it
	b.extraPeers = b.peer6() + fmt.Sprintf("  peer \"tor2\" {\n    address = %q\n    asn     = %d\n  }\n", silent, routerASN)
	b.rewrite(t, d, body)
	start := time.Now()
	if code, out := d.reload(t); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	took := b.router.WaitNexthops(t, bgpVIP6, []netip.Addr{n.Addr6}, 30*time.Second)
	t.Logf("router routes %s via the added IPv6 session %v after the reload", bgpVIP6, took)
	st := d.waitPeers(t, "showing tor1 and tor1-v6 up, tor2 down", 10*time.Second, func(st jsonStatus) bool {
		up := map[string]bool{}
		for _, p := range st.BGP.Peers {
			up[p.Name] = p.Established
		}
		return len(st.BGP.Peers) == 3 && up["tor1"] && up["tor1-v6"] && !up["tor2"]
	})
	for _, p := range st.BGP.Peers {
		switch p.Name {
		case "tor1":
			if p.UpSince != before.UpSince || p.Advertised != 1 {
				t.Errorf("tor1 after adding peers: %+v; want up since %s, 1 prefix", p, before.UpSince)
			}
		case "tor2":
			if p.Address != silent.String() || p.UpSince != "" {
				t.Errorf("tor2 (nobody answers): %+v", p)
			}
			t.Logf("tor2, where nobody answers, is %s", p.State)
		}
	}
	t.Logf("reload adding two peers took effect in %v", time.Since(start))

	b.extraPeers = ""
	b.rewrite(t, d, body)
	if code, out := d.reload(t); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	// The removed IPv6 session is closed: the router drops what it learned
	// on it at once, not at hold-time expiry.
	took = b.router.WaitNexthops(t, bgpVIP6, nil, bgpHold/3)
	t.Logf("router dropped %s %v after the reload removed tor1-v6", bgpVIP6, took)
	after := d.waitPeers(t, "showing tor1 alone", 10*time.Second, func(st jsonStatus) bool {
		return len(st.BGP.Peers) == 1 && st.BGP.Peers[0].Established
	}).BGP.Peers[0]
	if after.Name != "tor1" || after.UpSince != before.UpSince {
		t.Errorf("after removing peers: %+v; want tor1 up since %s", after, before.UpSince)
	}
	if hops := b.router.Nexthops(t, bgpVIP); len(hops) != 1 {
		t.Errorf("router lost %s over the reloads", bgpVIP)
	}
	if est, drop := b.routerSessions(t, n.Addr); est != 1 || drop != 0 {
		t.Errorf("router saw tor1 come up %d times and drop %d times over the reloads; want 1 and 0", est, drop)
	}
	if est, drop := b.routerSessions(t, n.Addr6); est != 1 || drop != 1 {
		t.Errorf("router saw tor1-v6 come up %d times and drop %d times; want 1 and 1", est, drop)
	}
}

// TestBGPVRRPMasterAnnouncesIPv6: announce = "bgp" on an instance whose VIP
// is an IPv6 /128: the master announces it over its IPv6 session, the
// router routes it via the master's IPv6 address and its client reaches it;
// after the master's nginx dies, the new master's route replaces it.
func TestBGPVRRPMasterAnnouncesIPv6(t *testing.T) {
	t.Parallel()
	b := newBGPLab(t, 2)
	b.extraPeers = b.peer6()
	n1, n2 := b.nodes[0], b.nodes[1]
	d1 := b.startBGPNode(t, n1, vrrpBGPOf(bgpVIP6, 150, 0))
	if err := n1.WaitAddress(t, bgpVIP6.Addr(), true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	b.startBGPNode(t, n2, vrrpBGPOf(bgpVIP6, 100, 0))
	took := b.router.WaitNexthops(t, bgpVIP6, []netip.Addr{n1.Addr6}, 60*time.Second)
	t.Logf("router routes %s via the master %s after %v:\n%s", bgpVIP6, n1.Addr6, took, b.router.KernelRoute(t, bgpVIP6))
	if err := b.router.Client.Ping(bgpVIP6.Addr(), 5*time.Second); err != nil {
		t.Fatalf("client behind the router cannot reach %s: %v", bgpVIP6.Addr(), err)
	}
	st := d1.waitPeers(t, "announcing the VIP on tor1-v6 alone", 10*time.Second, func(st jsonStatus) bool {
		adv := map[string]int{}
		for _, p := range st.BGP.Peers {
			adv[p.Name] = p.Advertised
		}
		return len(st.BGP.Peers) == 2 && adv["tor1"] == 0 && adv["tor1-v6"] == 1
	})
	if len(st.BGP.Announced) != 1 || st.BGP.Announced[0] != bgpVIP6.String() {
		t.Errorf("master's status announced %v; want [%s]", st.BGP.Announced, bgpVIP6)
	}
	// Settled: still the master alone (the backup announces nothing).
	time.Sleep(time.Second)
	b.router.WaitNexthops(t, bgpVIP6, []netip.Addr{n1.Addr6}, time.Second)

	start := time.Now()
	killed := kill(t, b.webs[0])
	b.router.WaitNexthops(t, bgpVIP6, []netip.Addr{n2.Addr6}, 10*time.Second)
	took = time.Since(start)
	<-killed
	t.Logf("router routes %s via the new master %s %v after nginx died on the old one", bgpVIP6, n2.Addr6, took)
	if err := n2.WaitAddress(t, bgpVIP6.Addr(), true, 5*time.Second); err != nil {
		t.Error(err)
	}
	if err := b.router.Client.Ping(bgpVIP6.Addr(), 5*time.Second); err != nil {
		t.Errorf("client cannot reach %s on the new master: %v", bgpVIP6.Addr(), err)
	}
}

// TestBGPIPv4SessionCarriesNoIPv6Route: the router offers IPv6 unicast on
// the node's IPv4 session too; the node does not take it up, so its IPv6
// VIP is not sent there with an IPv4-mapped next hop (::ffff:198.51.100.2),
// which bgpd would take as its best path yet could not install. IPv6 VIPs
// need an IPv6 session (TestBGPIPv6AnycastServesThroughTheRouter).
func TestBGPIPv4SessionCarriesNoIPv6Route(t *testing.T) {
	netlab.RequireFRR(t)
	netlab.RequireNginx(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n := lab.Nodes[1]
	router := lab.StartRouter(t, lab.Nodes[0], netlab.RouterConfig{ASN: routerASN, PeerASN: nodeASN, Peers: []netip.Addr{n.Addr},
		Extra: " address-family ipv6 unicast\n  neighbor hasidecar activate\n exit-address-family\n"})
	b := &bgpLab{lab: lab, router: router, nodes: []*netlab.Node{n}, webs: []*netlab.Nginx{n.StartNginx(t)}}
	d := b.startBGPNode(t, n, anycast("anycast", bgpVIP, bgpVIP6))
	router.WaitNexthops(t, bgpVIP, b.addrs(n), 60*time.Second)
	d.waitEstablished(t, 1, 10*time.Second)
	// The UPDATEs of both families follow the session's start at once; 2 s
	// is a wide margin for one that would come.
	time.Sleep(2 * time.Second)
	neighbor := router.BGPD.Show(t, "show bgp neighbors "+n.Addr.String())
	if !strings.Contains(neighbor, "Address Family IPv6 Unicast: advertised\n") {
		t.Errorf("the router does not offer IPv6 unicast alone on the IPv4 session:\n%s", neighbor)
	}
	if paths := router.BGPPaths(t, bgpVIP6); len(paths) != 0 {
		t.Errorf("router learned %s over the IPv4 session: %+v\n%s", bgpVIP6, paths,
			router.BGPD.Show(t, "show bgp ipv6 unicast "+bgpVIP6.String()))
	}
}
