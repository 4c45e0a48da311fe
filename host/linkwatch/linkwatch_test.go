package linkwatch

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"
)

// startWatch starts Watch inside node's namespace; the watch ends with the test.
func startWatch(t *testing.T, node *netlab.Node, ifaces ...string) (<-chan Event, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var events <-chan Event
	if err := node.Do(func() error {
		var err error
		events, err = Watch(ctx, ifaces, zaptest.NewLogger(t))
		return err
	}); err != nil {
		t.Fatalf("%s: Watch: %v", node.Name, err)
	}
	return events, cancel
}

// expect reads the next event and compares it.
func expect(t *testing.T, events <-chan Event, want Event) {
	t.Helper()
	select {
	case got, ok := <-events:
		if !ok {
			t.Fatalf("channel closed, want %+v", want)
		}
		if got != want {
			t.Fatalf("event = %+v, want %+v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no event within 5s, want %+v", want)
	}
}

// expectQuiet checks that no event arrives for d.
func expectQuiet(t *testing.T, events <-chan Event, d time.Duration) {
	t.Helper()
	select {
	case got := <-events:
		t.Fatalf("unexpected event %+v", got)
	case <-time.After(d):
	}
}

func TestWatchFollowsLinkState(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	node := lab.Nodes[0]
	events, _ := startWatch(t, node, node.Iface, "veth9", node.Iface)

	// Current state first, in the order given, repeats dropped.
	expect(t, events, Event{Interface: node.Iface, Up: true})
	expect(t, events, Event{Interface: "veth9", Up: false})
	expectQuiet(t, events, 200*time.Millisecond)

	steps := []struct {
		name string
		do   func()
		want Event
	}{
		{"admin down", func() { node.Run(t, "ip", "link", "set", node.Iface, "down") }, Event{node.Iface, false}},
		{"admin up", func() { node.Run(t, "ip", "link", "set", node.Iface, "up") }, Event{node.Iface, true}},
		{"carrier lost", func() { lab.PortDown(t, node) }, Event{node.Iface, false}},
		{"carrier back", func() { lab.PortUp(t, node) }, Event{node.Iface, true}},
		{"created, still down", func() { node.Run(t, "ip", "link", "add", "veth9", "type", "veth", "peer", "name", "veth9p") }, Event{}},
		{"admin up without carrier", func() { node.Run(t, "ip", "link", "set", "veth9", "up") }, Event{}},
		{"carrier from its peer", func() { node.Run(t, "ip", "link", "set", "veth9p", "up") }, Event{"veth9", true}},
		{"deleted", func() { node.Run(t, "ip", "link", "del", "veth9") }, Event{"veth9", false}},
	}
	for _, s := range steps {
		s.do()
		if s.want == (Event{}) {
			expectQuiet(t, events, 200*time.Millisecond)
			continue
		}
		expect(t, events, s.want)
	}
	// Changes to interfaces nobody watches are not reported.
	node.Run(t, "ip", "link", "add", "other0", "type", "veth", "peer", "name", "other1")
	node.Run(t, "ip", "link", "set", "other0", "up")
	node.Run(t, "ip", "link", "set", "other1", "up")
	expectQuiet(t, events, 200*time.Millisecond)
}

func TestWatchClosesWhenContextEnds(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	node := lab.Nodes[0]
	events, cancel := startWatch(t, node, node.Iface)
	expect(t, events, Event{Interface: node.Iface, Up: true})
	cancel()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed 5s after cancel")
		}
	}
}

// brokenSource hands out real subscriptions but lets the test break the
// current one, as a netlink error would.
type brokenSource struct {
	subscriptions chan *subscription
}

func (b *brokenSource) subscribe(w *watcher) (*subscription, error) {
	s, err := w.subscribe()
	if err == nil {
		b.subscriptions <- s
	}
	return s, err
}

// TestWatchResubscribes: after the subscription breaks, Watch subscribes
// again and reports the change it missed meanwhile.
func TestWatchResubscribes(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	node := lab.Nodes[0]
	src := &brokenSource{subscriptions: make(chan *subscription, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var events <-chan Event
	if err := node.Do(func() error {
		var err error
		events, err = watch(ctx, []string{node.Iface}, zaptest.NewLogger(t), src.subscribe)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	expect(t, events, Event{Interface: node.Iface, Up: true})

	// Break the subscription the way the library does on a receive error:
	// its socket closes and its channel with it. The change that follows is
	// made while nobody listens.
	(<-src.subscriptions).close()
	node.Run(t, "ip", "link", "set", node.Iface, "down")

	select {
	case <-src.subscriptions:
	case <-time.After(5 * time.Second):
		t.Fatal("no new subscription within 5s")
	}
	expect(t, events, Event{Interface: node.Iface, Up: false})
	node.Run(t, "ip", "link", "set", node.Iface, "up")
	expect(t, events, Event{Interface: node.Iface, Up: true})
}

func TestWatchRejectsBadNames(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ifaces []string
		want   string
	}{
		{"none", nil, "no interface"},
		{"empty name", []string{"eth0", ""}, `"" is not a valid interface name`},
		{"too long", []string{"an-interface-name"}, "not a valid interface name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Names are checked before anything touches netlink, so this
			// runs anywhere.
			_, err := Watch(context.Background(), tc.ifaces, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Watch(%q) = %v, want error containing %q", tc.ifaces, err, tc.want)
			}
		})
	}
}

func TestIsUp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags uint32
		want  bool
	}{
		{"up and running", unix.IFF_UP | unix.IFF_RUNNING | unix.IFF_BROADCAST, true},
		{"up without carrier", unix.IFF_UP | unix.IFF_BROADCAST, false},
		{"running but admin down", unix.IFF_RUNNING, false},
		{"nothing", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isUp(tc.flags); got != tc.want {
				t.Errorf("isUp(%#x) = %v, want %v", tc.flags, got, tc.want)
			}
		})
	}
}

func TestSendDropsRepeats(t *testing.T) {
	w := &watcher{last: map[string]bool{}}
	out := make(chan Event, 10)
	for _, e := range []Event{{"eth0", true}, {"eth0", true}, {"eth1", true}, {"eth0", false}, {"eth0", false}, {"eth0", true}} {
		w.send(context.Background(), out, e.Interface, e.Up)
	}
	close(out)
	var got []Event
	for e := range out {
		got = append(got, e)
	}
	want := []Event{{"eth0", true}, {"eth1", true}, {"eth0", false}, {"eth0", true}}
	if len(got) != len(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events = %v, want %v", got, want)
		}
	}
}
