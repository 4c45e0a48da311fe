package vrrp

import (
	"fmt"
	"time"
)

// MaintenanceChanged puts the instance in or out of maintenance: a planned
// handover that loses no packet. On, a master keeps the addresses but
// advertises priority 1 (MaintenancePriority), so that a backup takes over
// (at once with fast_preempt, else after Master_Down_Interval); it answers
// for the addresses until it hears the new master, then removes them. In
// maintenance a backup never takes over, however silent the master. Off,
// the instance takes part again with its own priority (and preempts back
// if it may).
type MaintenanceChanged struct {
	Active bool
	Reason string
}

func (MaintenanceChanged) event() {}

// MaintenancePriority is what an instance in maintenance advertises: the
// lowest priority that is not a resignation. Priority 0 would make the
// master drop the addresses before a backup holds them.
const MaintenancePriority = 1

// InMaintenance reports whether the instance is in maintenance, and why.
func (in *Instance) InMaintenance() (bool, string) { return in.maint, in.maintReason }

// advertised is the priority the instance advertises and elects with now.
func (in *Instance) advertised() uint8 {
	if in.maint {
		return MaintenancePriority
	}
	return in.effective
}

func (in *Instance) maintenanceChanged(now time.Time, m MaintenanceChanged) []Action {
	if m.Active == in.maint {
		in.maintReason = m.Reason
		return nil
	}
	in.maint, in.maintReason = m.Active, m.Reason
	if !m.Active {
		in.maintReason = ""
	}
	switch in.state {
	case Master:
		// On: tell the backups now that one of them outranks us. Off
		// before anyone took over: advertise our own priority again.
		in.advertAt = now.Add(in.cfg.AdvertInterval)
		return []Action{in.advertisement()}
	case Backup:
		if m.Active {
			return nil // NextDeadline stops: we never take over
		}
		// Back in the election: a master that is there keeps advertising
		// and is followed (or preempted); a silent one times out.
		in.lowerSince = time.Time{}
		in.downReason = ""
		in.ignoredWhy = ""
		in.masterDownAt = now.Add(in.MasterDownInterval())
		if !in.masterAddr.IsValid() {
			in.downReason = fmt.Sprintf("maintenance ended; no master heard for %v", rounded(in.MasterDownInterval()))
		}
	}
	return nil
}

// MasterPriority is the priority the master we follow advertised last,
// while BACKUP with a known master; 0 otherwise. With our own weights it
// tells whether a failing check on the master would move the VIPs here.
func (in *Instance) MasterPriority() uint8 {
	if in.state != Backup || !in.masterAddr.IsValid() {
		return 0
	}
	return in.masterPriority
}
