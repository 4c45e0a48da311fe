package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/instance"
	"github.com/hasidecar/hasidecar/host/vipguard"
)

// A master probes for its addresses this often: a duplicate owner that
// stays silent is found within this time.
const probeEvery = 5 * time.Second

// guardGrace is how long after becoming master another MAC may still speak
// for our addresses: the master we took over from removes them only when it
// hears us.
const guardGrace = 2 * time.Second

// guardConfirm is how long a master waits before it calls a claim a
// conflict: a node that takes over from us announces the VIPs at once, and
// we step down as soon as we hear its advertisement, which races with its
// gratuitous ARP. A real duplicate owner is still there a second later.
const guardConfirm = time.Second

// guardSet is one ARP guard per interface, and when each master became one.
type guardSet struct {
	mu      sync.Mutex
	open    map[string]*vipguard.Guard
	master  map[*tracked]masterMark
	pending map[string]bool // claims waiting for guardConfirm, by instance and MAC
}

type masterMark struct {
	transitions int
	since       time.Time
}

// startGuards opens a guard on each interface an instance uses and has
// none yet. A guard that cannot be opened is a warning: the daemon runs on
// without duplicate-VIP detection there.
func (d *Daemon) startGuards(ctx context.Context) {
	d.guards.mu.Lock()
	defer d.guards.mu.Unlock()
	if d.guards.open == nil {
		d.guards.open = map[string]*vipguard.Guard{}
		d.guards.master = map[*tracked]masterMark{}
	}
	for _, t := range d.current() {
		d.mu.Lock()
		iface := t.ic.Interface
		d.mu.Unlock()
		if _, ok := d.guards.open[iface]; ok {
			continue
		}
		g, err := vipguard.Open(iface)
		if err != nil {
			d.log.Warn("duplicate VIP detection off on this interface", zap.String("interface", iface), zap.Error(err))
			continue
		}
		d.guards.open[iface] = g
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := g.Run(ctx, func(c vipguard.Claim) { d.onClaim(iface, c) }); err != nil {
				d.log.Warn("duplicate VIP detection stopped", zap.String("interface", iface), zap.Error(err))
			}
		}()
	}
}

// ownedAddrs returns t's virtual addresses while it has been master
// for at least guardGrace.
func (d *Daemon) ownedAddrs(t *tracked, now time.Time) []netip.Addr {
	st := t.Status()
	d.guards.mu.Lock()
	defer d.guards.mu.Unlock()
	if st.State != "MASTER" {
		delete(d.guards.master, t)
		return nil
	}
	m, ok := d.guards.master[t]
	if !ok || m.transitions != st.Transitions {
		d.guards.master[t] = masterMark{st.Transitions, now}
		return nil
	}
	if now.Sub(m.since) < guardGrace {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []netip.Addr
	for _, p := range t.ic.VirtualIPs {
		out = append(out, p.Addr())
	}
	return out
}

// onClaim reports another MAC speaking for an address a master of ours on
// iface owns.
func (d *Daemon) onClaim(iface string, c vipguard.Claim) {
	now := time.Now()
	for _, t := range d.current() {
		d.mu.Lock()
		same := t.ic.Interface == iface
		name := t.ic.Name
		d.mu.Unlock()
		if !same {
			continue
		}
		for _, a := range d.ownedAddrs(t, now) {
			if a == c.Addr {
				d.confirmClaim(t, name, c)
			}
		}
	}
}

// confirmClaim reports c after guardConfirm if t is then still the master
// it was: a legitimate new master would have made it step down by then.
func (d *Daemon) confirmClaim(t *tracked, name string, c vipguard.Claim) {
	key := name + " " + c.MAC.String() + " " + c.Addr.String()
	d.guards.mu.Lock()
	if d.guards.pending == nil {
		d.guards.pending = map[string]bool{}
	}
	if d.guards.pending[key] {
		d.guards.mu.Unlock()
		return
	}
	d.guards.pending[key] = true
	mark := d.guards.master[t]
	d.guards.mu.Unlock()
	time.AfterFunc(guardConfirm, func() {
		d.guards.mu.Lock()
		delete(d.guards.pending, key)
		d.guards.mu.Unlock()
		if st := t.Status(); st.State != "MASTER" || st.Transitions != mark.transitions {
			return
		}
		t.ReportConflict(instance.ConflictDuplicate, c.MAC.String(), fmt.Sprintf(
			"%s (MAC %s) answers for %s while this node is master of %s: duplicate VIP owner; find it with `ip neigh show %s` on a client and remove the address there",
			c.Addr, c.MAC, c.Addr, name, c.Addr))
	})
}

// probeVIPs asks, every probeEvery, who else owns each master's addresses;
// the answers arrive through the guards.
func (d *Daemon) probeVIPs(ctx context.Context) {
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, t := range d.current() {
				addrs := d.ownedAddrs(t, now)
				if len(addrs) == 0 {
					continue
				}
				d.mu.Lock()
				iface := t.ic.Interface
				d.mu.Unlock()
				d.guards.mu.Lock()
				g := d.guards.open[iface]
				d.guards.mu.Unlock()
				if g != nil {
					if err := g.Probe(addrs); err != nil {
						d.log.Debug("probing for duplicate VIP owners", zap.Error(err))
					}
				}
			}
		}
	}
}
