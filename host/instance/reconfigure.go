package instance

import (
	"context"
	"fmt"
	"net/netip"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/vrrp"
)

// Reconfigure applies a changed spec in the runner's loop, keeping its state:
// on a master, virtual addresses that stay are never touched, added ones are
// added and announced, removed ones removed. The interface, VRID, version
// and the choice of multicast or unicast identify the instance and cannot
// change: the caller replaces the runner for those.
func (r *Runner) Reconfigure(ctx context.Context, spec Spec) error {
	errc := make(chan error, 1)
	select {
	case r.calls <- func() { errc <- r.reconfigure(spec) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NeedsReplacing reports whether next describes another virtual router than
// prev (interface, VRID, version, multicast or unicast, address owner), so
// that Reconfigure cannot apply it and the runner must be replaced.
func NeedsReplacing(prev, next Spec) bool {
	return next.Interface != prev.Interface || next.VRID != prev.VRID || next.Version != prev.Version ||
		(len(next.UnicastPeers) == 0) != (len(prev.UnicastPeers) == 0) ||
		(next.Priority == vrrp.OwnerPriority) != (prev.Priority == vrrp.OwnerPriority)
}

func (r *Runner) reconfigure(spec Spec) error {
	if NeedsReplacing(r.spec, spec) {
		return fmt.Errorf("instance %s: interface, VRID, version or unicast mode changed: the instance must be replaced", spec.Name)
	}
	if err := r.fsm.Reconfigure(fsmConfig(spec, r.conn.Source())); err != nil {
		return fmt.Errorf("instance %s: %w", spec.Name, err)
	}
	added, removed := diffPrefixes(held(r.spec), held(spec))
	vips := make([]netip.Addr, len(spec.VirtualIPs))
	for i, p := range spec.VirtualIPs {
		vips[i] = p.Addr()
	}
	e := expectation(spec, vips)
	r.spec, r.vips = spec, vips
	r.expect.Store(&e)
	if p, ok := r.conn.(pacer); ok {
		p.Paced(spec.AdvertInterval)
	}
	if r.fsm.State() == vrrp.Master {
		var fresh []netip.Addr
		for _, p := range added {
			if err := r.addrs.Add(p); err != nil {
				r.log.Error("adding virtual address", zap.Stringer("address", p), zap.Error(err))
				continue
			}
			fresh = append(fresh, p.Addr())
		}
		for _, p := range removed {
			if err := r.addrs.Remove(p); err != nil {
				r.log.Error("removing virtual address", zap.Stringer("address", p), zap.Error(err))
			}
		}
		for i := 0; i < garpBurst && len(fresh) > 0; i++ {
			if err := r.garp.Announce(fresh); err != nil {
				r.log.Warn("sending gratuitous ARP for added addresses", zap.Error(err))
				break
			}
		}
	}
	r.log.Info("reconfigured", zap.String("state", r.fsm.State().String()),
		zap.Int("virtual_ips_added", len(added)), zap.Int("virtual_ips_removed", len(removed)))
	r.snapshot(nil)
	return nil
}

// diffPrefixes returns what is in b and not in a, and what is in a and not in b.
func diffPrefixes(a, b []netip.Prefix) (added, removed []netip.Prefix) {
	in := func(p netip.Prefix, set []netip.Prefix) bool {
		for _, q := range set {
			if p == q {
				return true
			}
		}
		return false
	}
	for _, p := range b {
		if !in(p, a) {
			added = append(added, p)
		}
	}
	for _, p := range a {
		if !in(p, b) {
			removed = append(removed, p)
		}
	}
	return added, removed
}
