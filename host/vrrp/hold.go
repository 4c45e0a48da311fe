package vrrp

import "time"

// Hold keeps a backup from becoming master while raised, as keepalived
// keeps a member of a sync group back until every member could become
// master: when its master is down, a held backup stays backup, restarts
// Master_Down_Timer and reports WantMaster. Cleared, a backup that wants
// to be master becomes master at once (the group moves together).
type Hold struct {
	Reason string
	Active bool
}

// WantMaster reports that a held backup would be master (its master is
// down), or, with Want false, that it follows a master again.
type WantMaster struct {
	Want bool
}

func (Hold) event()        {}
func (WantMaster) action() {}

func (in *Instance) hold(now time.Time, h Hold) []Action {
	if h.Active == in.holds[h.Reason] {
		return nil
	}
	if h.Active {
		if in.holds == nil {
			in.holds = map[string]bool{}
		}
		in.holds[h.Reason] = true
		return nil
	}
	delete(in.holds, h.Reason)
	if len(in.holds) == 0 && in.wantMaster && in.state == Backup && !in.maint {
		return in.becomeMaster(now, h.Reason+": released, every member wants master")
	}
	return nil
}

// heldExpiry is Master_Down_Timer running out while held.
func (in *Instance) heldExpiry(now time.Time) []Action {
	in.masterDownAt = now.Add(in.MasterDownInterval())
	if in.wantMaster {
		return nil
	}
	in.wantMaster = true
	return []Action{WantMaster{Want: true}}
}
