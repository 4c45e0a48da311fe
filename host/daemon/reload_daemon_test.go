package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/instance"
	"github.com/hasidecar/hasidecar/host/linkwatch"
	"github.com/hasidecar/hasidecar/host/status"
	"github.com/hasidecar/hasidecar/host/vrrp/packet"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// fakeHost stands in for the host's network: sockets that hear no peer
// (every instance becomes master), an address manager that records what it
// is asked, links that are up. An interface named missing0 has no socket.
type fakeHost struct {
	mu    sync.Mutex
	ops   []string // "add 198.51.100.100/24", "remove …", in order
	conns map[string]*fakeConn
}

func (h *fakeHost) joinSocket(_ context.Context, ic config.Instance) (instance.Conn, string, string, error) {
	if ic.Interface == "missing0" {
		return nil, "", "", errors.New("opening VRRP socket on missing0: no such network interface")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := &fakeConn{src: netip.MustParseAddr("198.51.100.1"), closed: make(chan struct{})}
	h.conns[ic.Name] = c
	if ic.UseVMAC {
		return c, ic.VMACName(), "", nil
	}
	return c, ic.Interface, "", nil
}

func (h *fakeHost) removeVMAC(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, "removeVMAC "+name)
	return nil
}

func (h *fakeHost) addresses(string, *zap.Logger) (addressManager, error) { return fakeAddrs{h}, nil }
func (h *fakeHost) announcer(string) (announcer, error)                   { return fakeAnnouncer{}, nil }

func (h *fakeHost) watchLinks(ctx context.Context, names []string, _ *zap.Logger) (<-chan linkwatch.Event, error) {
	ch := make(chan linkwatch.Event, len(names))
	for _, n := range names {
		ch <- linkwatch.Event{Interface: n, Up: true}
	}
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

func (h *fakeHost) record(op string, p netip.Prefix) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op+" "+p.String())
}

// opsSince returns the address operations after the first n.
func (h *fakeHost) opsSince(n int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ops[n:])
}

// conn returns the last socket opened for the instance called name.
func (h *fakeHost) conn(name string) *fakeConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conns[name]
}

type fakeAddrs struct{ h *fakeHost }

func (a fakeAddrs) Add(p netip.Prefix) error       { a.h.record("add", p); return nil }
func (a fakeAddrs) Remove(p netip.Prefix) error    { a.h.record("remove", p); return nil }
func (a fakeAddrs) Has(netip.Prefix) (bool, error) { return false, nil }
func (a fakeAddrs) Close() error                   { return nil }
func (fakeAnnouncer) Announce([]netip.Addr) error  { return nil }
func (fakeAnnouncer) Close() error                 { return nil }

type fakeAnnouncer struct{}

// fakeConn hears nothing and keeps what the instance sent.
type fakeConn struct {
	src    netip.Addr
	mu     sync.Mutex
	sent   []sentAdvert
	once   sync.Once
	closed chan struct{}
}

func (c *fakeConn) Source() netip.Addr { return c.src }

type sentAdvert struct {
	payload []byte
	dst     netip.Addr
}

func (c *fakeConn) Send(b []byte, dst netip.Addr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, sentAdvert{slices.Clone(b), dst})
	return nil
}

func (c *fakeConn) Receive() (vrrpconn.Packet, error) {
	<-c.closed
	return vrrpconn.Packet{}, vrrpconn.ErrClosed
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// lastPriority is the priority of the last advert sent: 0 for a resignation.
func (c *fakeConn) lastPriority(t *testing.T) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sent) == 0 {
		return -1
	}
	last := c.sent[len(c.sent)-1]
	ad, err := packet.Unmarshal(last.payload, c.src, last.dst)
	if err != nil {
		t.Fatalf("the instance sent a bad advert: %v", err)
	}
	return int(ad.Priority)
}

// writeConfig writes a configuration with the instances given as
// (name, VRID, interface, VIPs, more HCL).
func writeConfig(t *testing.T, path string, dir string, instances ...[5]string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "control { socket = %q }\nstate_dir = %q\nplugin_dir = %q\n", filepath.Join(dir, "hasidecar.sock"), dir, dir)
	for _, in := range instances {
		fmt.Fprintf(&b, `vrrp_instance %q {
  interface         = %q
  virtual_router_id = %s
  priority          = 100
  advert_interval   = "100ms"
  virtual_ips       = [%s]
%s}
`, in[0], in[2], in[1], in[3], in[4])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func instanceNamed(st status.Status, name string) (status.InstanceStatus, bool) {
	for _, in := range st.Instances {
		if in.Name == name {
			return in, true
		}
	}
	return status.InstanceStatus{}, false
}

func names(st status.Status) []string {
	var out []string
	for _, in := range st.Instances {
		out = append(out, in.Name)
	}
	return out
}

// waitMaster waits until every named instance is master.
func waitMaster(t *testing.T, d *Daemon, list ...string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st := d.Status()
		all := true
		for _, name := range list {
			if in, ok := instanceNamed(st, name); !ok || in.State != "MASTER" {
				all = false
			}
		}
		if all {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("not all of %v became master: %+v", list, st.Instances)
		}
	}
}

// runOnFakeHost runs a daemon with the configuration at path on host until
// the test ends, and returns once it has started.
func runOnFakeHost(t *testing.T, path string, host *fakeHost) *Daemon {
	t.Helper()
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	d := New(cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	d.host = host
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ran:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	for end := time.Now().Add(10 * time.Second); !d.started.Load(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the daemon did not start")
		}
	}
	return d
}

// TestReloadDrivesInstances runs a daemon on a fake host, without root:
// a reload keeps a master's unchanged VIP, adds and removes the others,
// resigns a removed instance and starts a new one; a reload whose new
// instance cannot have a socket changes nothing.
func TestReloadDrivesInstances(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "") // not the systemd of a test run under it
	dir := t.TempDir()
	path := filepath.Join(dir, "hasidecar.hcl")
	writeConfig(t, path, dir,
		[5]string{"VI_1", "51", "fake0", `"198.51.100.100/24", "198.51.100.101/24"`},
		[5]string{"VI_2", "52", "fake0", `"198.51.100.102/24"`})
	host := &fakeHost{conns: map[string]*fakeConn{}}
	d := runOnFakeHost(t, path, host)
	waitMaster(t, d, "VI_1", "VI_2")
	before, _ := instanceNamed(d.Status(), "VI_1")
	mark := len(host.opsSince(0))

	// VI_1 keeps .100, drops .101, gains .103; VI_2 goes; VI_3 comes.
	writeConfig(t, path, dir,
		[5]string{"VI_1", "51", "fake0", `"198.51.100.100/24", "198.51.100.103/24"`},
		[5]string{"VI_3", "53", "fake0", `"198.51.100.104/24"`})
	if err := d.Reload(context.Background(), path); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	waitMaster(t, d, "VI_1", "VI_3")
	ops := host.opsSince(mark)
	for _, want := range []string{"remove 198.51.100.101/24", "add 198.51.100.103/24", "remove 198.51.100.102/24", "add 198.51.100.104/24"} {
		if !slices.Contains(ops, want) {
			t.Errorf("reload did not %s; it did %v", want, ops)
		}
	}
	for _, op := range ops {
		if strings.HasSuffix(op, " 198.51.100.100/24") {
			t.Errorf("reload touched the kept master's unchanged VIP: %s (all: %v)", op, ops)
		}
	}
	after, _ := instanceNamed(d.Status(), "VI_1")
	if after.Transitions != before.Transitions {
		t.Errorf("the kept master changed state: %d transitions, then %d", before.Transitions, after.Transitions)
	}
	if !slices.Equal(after.VirtualIPs, []string{"198.51.100.100/24", "198.51.100.103/24"}) {
		t.Errorf("kept master's VIPs %v", after.VirtualIPs)
	}
	if c := host.conn("VI_2"); !c.isClosed() || c.lastPriority(t) != 0 {
		t.Errorf("removed VI_2: socket closed %v, last advert's priority %d; want closed after a priority 0 advert", c.isClosed(), c.lastPriority(t))
	}
	if got := names(d.Status()); !slices.Equal(got, []string{"VI_1", "VI_3"}) {
		t.Errorf("instances after reload %v", got)
	}

	// A new instance whose socket cannot be opened rejects the reload,
	// and the other new instance's socket is closed again.
	mark = len(host.opsSince(0))
	writeConfig(t, path, dir,
		[5]string{"VI_1", "51", "fake0", `"198.51.100.100/24"`},
		[5]string{"VI_3", "53", "fake0", `"198.51.100.104/24"`},
		[5]string{"VI_4", "54", "fake0", `"198.51.100.105/24"`},
		[5]string{"VI_5", "55", "missing0", `"198.51.100.106/24"`})
	err := d.Reload(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "reload rejected, nothing changed") || !strings.Contains(err.Error(), "missing0") {
		t.Fatalf("Reload = %v, want it rejected for missing0", err)
	}
	if c := host.conn("VI_4"); c == nil || !c.isClosed() {
		t.Error("the rejected reload left VI_4's socket open")
	}
	time.Sleep(300 * time.Millisecond) // three advert intervals: anything it changed would show
	if ops := host.opsSince(mark); len(ops) != 0 {
		t.Errorf("the rejected reload changed addresses: %v", ops)
	}
	st := d.Status()
	if got := names(st); !slices.Equal(got, []string{"VI_1", "VI_3"}) {
		t.Errorf("instances after the rejected reload %v", got)
	}
	if in, _ := instanceNamed(st, "VI_1"); in.State != "MASTER" || in.Transitions != before.Transitions ||
		!slices.Equal(in.VirtualIPs, []string{"198.51.100.100/24", "198.51.100.103/24"}) {
		t.Errorf("the rejected reload changed VI_1: %+v", in)
	}

	// Unicast instead of multicast replaces VI_3: the old one resigns and closes
	// its socket, the new one opens another and wins again.
	old3 := host.conn("VI_3")
	writeConfig(t, path, dir,
		[5]string{"VI_1", "51", "fake0", `"198.51.100.100/24", "198.51.100.103/24"`},
		[5]string{"VI_3", "53", "fake0", `"198.51.100.104/24"`, "  unicast_peers = [\"198.51.100.2\"]\n"})
	if err := d.Reload(context.Background(), path); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if !old3.isClosed() || old3.lastPriority(t) != 0 {
		t.Errorf("replaced VI_3: old socket closed %v, last priority %d", old3.isClosed(), old3.lastPriority(t))
	}
	if host.conn("VI_3") == old3 {
		t.Fatal("VI_3 was not given a new socket")
	}
	waitMaster(t, d, "VI_1", "VI_3")
	if in, _ := instanceNamed(d.Status(), "VI_1"); in.Transitions != before.Transitions {
		t.Errorf("replacing VI_3 moved VI_1: %+v", in)
	}
}

// TestReloadRemovesUnusedVirtualMACs: a reload that removes a use_vmac
// instance, or replaces it with one without use_vmac, removes its macvlan;
// one that replaces it with another use_vmac instance on the same VRID
// leaves the macvlan to it; a rejected reload removes the macvlan it made.
func TestReloadRemovesUnusedVirtualMACs(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	dir := t.TempDir()
	path := filepath.Join(dir, "hasidecar.hcl")
	vmac := "  use_vmac = true\n"
	writeConfig(t, path, dir,
		[5]string{"VI_1", "51", "fake0", `"198.51.100.100/24"`, vmac},
		[5]string{"VI_2", "52", "fake0", `"198.51.100.102/24"`, vmac})
	host := &fakeHost{conns: map[string]*fakeConn{}}
	d := runOnFakeHost(t, path, host)
	waitMaster(t, d, "VI_1", "VI_2")
	removed := func(since int) []string {
		var out []string
		for _, op := range host.opsSince(since) {
			if name, ok := strings.CutPrefix(op, "removeVMAC "); ok {
				out = append(out, name)
			}
		}
		return out
	}

	// VI_1 replaced (unicast now) but still with use_vmac; VI_2 removed.
	mark := len(host.opsSince(0))
	writeConfig(t, path, dir,
		[5]string{"VI_1", "51", "fake0", `"198.51.100.100/24"`, vmac + "  unicast_peers = [\"198.51.100.2\"]\n"})
	if err := d.Reload(context.Background(), path); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := removed(mark); !slices.Equal(got, []string{"vrrp.52"}) {
		t.Errorf("macvlans removed by the reload: %v, want [vrrp.52] (vrrp.51 goes on with the new VI_1)", got)
	}

	// VI_1 without use_vmac: its macvlan goes.
	mark = len(host.opsSince(0))
	writeConfig(t, path, dir,
		[5]string{"VI_1", "51", "fake0", `"198.51.100.100/24"`, "  unicast_peers = [\"198.51.100.2\"]\n"})
	if err := d.Reload(context.Background(), path); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := removed(mark); !slices.Equal(got, []string{"vrrp.51"}) {
		t.Errorf("macvlans removed by the reload: %v, want [vrrp.51]", got)
	}

	// A rejected reload removes the macvlan it made for a new instance.
	mark = len(host.opsSince(0))
	writeConfig(t, path, dir,
		[5]string{"VI_1", "51", "fake0", `"198.51.100.100/24"`, "  unicast_peers = [\"198.51.100.2\"]\n"},
		[5]string{"VI_3", "53", "fake0", `"198.51.100.103/24"`, vmac},
		[5]string{"VI_5", "55", "missing0", `"198.51.100.105/24"`})
	if err := d.Reload(context.Background(), path); err == nil {
		t.Fatal("a reload with an instance on missing0 was not rejected")
	}
	if got := removed(mark); !slices.Equal(got, []string{"vrrp.53"}) {
		t.Errorf("macvlans removed after the rejected reload: %v, want [vrrp.53]", got)
	}
}
