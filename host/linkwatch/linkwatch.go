// Package linkwatch reports whether network interfaces are usable, from
// netlink link notifications.
//
// An interface is up, as keepalived 2.2.7 counts it (FLAGS_UP in vrrp_if.h),
// when it is administratively up (IFF_UP) and has carrier (IFF_RUNNING). An
// interface that does not exist, or is deleted, is down.
package linkwatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Event is the state of one watched interface.
type Event struct {
	// Interface is the interface's name, as passed to Watch.
	Interface string
	// Up is true when the interface exists, is administratively up and
	// has carrier.
	Up bool
}

// Backoff bounds between attempts to subscribe again after netlink fails.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Watch watches the named interfaces in the current network namespace. The
// channel first carries the current state of every interface, in the order
// given, then only changes. After a netlink error Watch subscribes again and
// re-reads the state, so changes missed meanwhile are still reported. The
// channel is closed when ctx ends.
func Watch(ctx context.Context, ifaces []string, log *zap.Logger) (<-chan Event, error) {
	return watch(ctx, ifaces, log, (*watcher).subscribe)
}

// watch is Watch with the source of link notifications passed in, so that
// tests can break a subscription.
func watch(ctx context.Context, ifaces []string, log *zap.Logger, subscribe func(*watcher) (*subscription, error)) (<-chan Event, error) {
	names, err := checkNames(ifaces)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	// Pin the namespace now: re-subscribing later happens on whatever
	// thread the goroutine runs on.
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("watching links %v: reading the current network namespace: %w", names, err)
	}
	w := &watcher{names: names, ns: ns, log: log, last: map[string]bool{}, source: subscribe}
	sub, err := w.source(w)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("watching links %v: %w", names, err)
	}
	out := make(chan Event, len(names))
	go w.run(ctx, sub, out)
	return out, nil
}

// checkNames rejects names the kernel could never have and drops repeats.
func checkNames(ifaces []string) ([]string, error) {
	if len(ifaces) == 0 {
		return nil, errors.New("watching links: no interface given")
	}
	seen := map[string]bool{}
	var names []string
	for _, n := range ifaces {
		if n == "" || len(n) >= unix.IFNAMSIZ {
			return nil, fmt.Errorf("watching links: %q is not a valid interface name", n)
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names, nil
}

// watcher is the state of one Watch.
type watcher struct {
	names []string
	ns    netns.NsHandle
	log   *zap.Logger
	last  map[string]bool // what was last sent, per interface

	// source starts a subscription: (*watcher).subscribe, or a fake.
	source func(*watcher) (*subscription, error)
}

// subscription is one netlink subscription and the means to end it.
type subscription struct {
	updates chan netlink.LinkUpdate
	done    chan struct{}
	once    sync.Once
}

// subscribe starts a netlink subscription to link notifications in w.ns.
func (w *watcher) subscribe() (*subscription, error) {
	s := &subscription{updates: make(chan netlink.LinkUpdate, 64), done: make(chan struct{})}
	err := netlink.LinkSubscribeWithOptions(s.updates, s.done, netlink.LinkSubscribeOptions{
		Namespace: &w.ns,
		ErrorCallback: func(err error) {
			select {
			case <-s.done:
				// Closing the socket on purpose makes its reader fail.
			default:
				w.log.Warn("link notifications failed", zap.Error(err))
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("subscribing to link notifications: %w", err)
	}
	return s, nil
}

// close ends the subscription, which also closes its socket, and drains
// it, so that the library's reader, which sends without watching done, can
// finish and close the channel. It is called once per subscription, also
// after the subscription broke by itself.
func (s *subscription) close() {
	s.once.Do(func() { close(s.done) })
	for range s.updates {
	}
}

func (w *watcher) run(ctx context.Context, sub *subscription, out chan<- Event) {
	defer close(out)
	defer w.ns.Close()
	backoff := minBackoff
	for {
		// Read the state after subscribing: a change racing with the read
		// then arrives as an update, and dedupe drops the repeat.
		ok := w.sendCurrent(ctx, out) && w.follow(ctx, sub, out)
		sub.close()
		if !ok {
			return
		}
		// The subscription broke (its channel closed): subscribe again.
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			var err error
			if sub, err = w.source(w); err == nil {
				break
			}
			w.log.Warn("resubscribing to link notifications", zap.Error(err), zap.Duration("retry_in", backoff))
			backoff = min(2*backoff, maxBackoff)
		}
		backoff = minBackoff
	}
}

// sendCurrent queries every watched interface and sends what changed. It
// returns false when ctx ended.
func (w *watcher) sendCurrent(ctx context.Context, out chan<- Event) bool {
	h, err := netlink.NewHandleAt(w.ns, unix.NETLINK_ROUTE)
	if err != nil {
		// Updates still flow; the next one for each interface corrects
		// what we could not read now.
		w.log.Warn("reading link state", zap.Error(err))
		return true
	}
	defer h.Close()
	for _, name := range w.names {
		up := false
		link, err := h.LinkByName(name)
		switch {
		case err == nil:
			up = isUp(link.Attrs().RawFlags)
		case errors.As(err, new(netlink.LinkNotFoundError)):
			// Missing counts as down.
		default:
			w.log.Warn("reading link state", zap.String("interface", name), zap.Error(err))
			continue
		}
		if !w.send(ctx, out, name, up) {
			return false
		}
	}
	return true
}

// follow passes updates on until the subscription breaks (true) or ctx
// ends (false).
func (w *watcher) follow(ctx context.Context, sub *subscription, out chan<- Event) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case u, ok := <-sub.updates:
			if !ok {
				return true
			}
			name := u.Attrs().Name
			if !w.watched(name) {
				continue
			}
			up := u.Header.Type != unix.RTM_DELLINK && isUp(u.IfInfomsg.Flags)
			if !w.send(ctx, out, name, up) {
				return false
			}
		}
	}
}

// send emits an event unless it repeats the last one for that interface.
func (w *watcher) send(ctx context.Context, out chan<- Event, name string, up bool) bool {
	if last, ok := w.last[name]; ok && last == up {
		return true
	}
	select {
	case out <- Event{Interface: name, Up: up}:
		w.last[name] = up
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *watcher) watched(name string) bool {
	for _, n := range w.names {
		if n == name {
			return true
		}
	}
	return false
}

// isUp applies keepalived's rule: administratively up and running.
func isUp(flags uint32) bool {
	const want = unix.IFF_UP | unix.IFF_RUNNING
	return flags&want == want
}
