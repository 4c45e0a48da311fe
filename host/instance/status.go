package instance

import (
	"net/netip"
	"time"

	"github.com/hasidecar/hasidecar/host/status"
	"github.com/hasidecar/hasidecar/host/vrrp"
)

// Status is a snapshot for `hasidecar status`.
func (r *Runner) Status() status.InstanceStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.status
	st.AdvertsSent, st.AdvertsRecv = r.sent.Load(), r.recv.Load()
	st.Dropped = r.dropped.NonZero() // metrics fill in the zeros
	st.Conflicts = r.conflictStatusLocked(r.clock.Now())
	return st
}

// snapshotKey is what a status snapshot depends on, apart from the spec
// (changed only by reconfigure, which always snapshots).
type snapshotKey struct {
	state       vrrp.State
	effective   uint8
	master      netip.Addr
	transitions int
	faults      int
	interval    time.Duration
	masterPrio  uint8
}

func (r *Runner) snapshotKey() snapshotKey {
	return snapshotKey{r.fsm.State(), r.fsm.EffectivePriority(), r.fsm.MasterAddress(), r.fsm.Transitions(),
		r.fsm.NumFaults(), r.fsm.AdvertInterval(), r.fsm.MasterPriority()}
}

func (r *Runner) snapshot(moved *vrrp.Transition) {
	r.seen = r.snapshotKey()
	vips := make([]string, len(r.spec.VirtualIPs))
	for i, p := range r.spec.VirtualIPs {
		vips[i] = p.String()
	}
	master := ""
	if a := r.fsm.MasterAddress(); a.IsValid() {
		master = a.String()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &r.status
	st.Name = r.spec.Name
	st.State = r.fsm.State().String()
	st.Priority = int(r.spec.Priority)
	st.EffectivePriority = int(r.fsm.EffectivePriority())
	st.VirtualRouterID = int(r.spec.VRID)
	st.Interface = r.spec.Interface
	st.VirtualIPs = vips
	st.MasterAddress = master
	st.Transitions = r.fsm.Transitions()
	st.Version = int(r.spec.Version)
	st.AdvertInterval = r.fsm.AdvertInterval().String()
	st.Faults = r.fsm.Faults()
	st.MasterPriority = int(r.fsm.MasterPriority())
	if moved != nil {
		st.LastReason = moved.Reason
		// Wall time, without the monotonic reading, to the millisecond: what
		// an operator lines up with logs.
		st.LastTransition = r.clock.Now().Round(0).Truncate(time.Millisecond)
	}
}
