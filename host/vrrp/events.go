package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Event is something that happened to an instance: Start, Stop, Tick,
// AdvertReceived, AdvertDropped, FaultChanged or PriorityChanged.
type Event interface{ event() }

// Start leaves INIT: the instance joins the election (RFC 5798 section 6.4.1).
type Start struct{}

// Stop shuts the instance down; a master resigns with priority 0 so that a
// backup takes over after Skew_Time rather than Master_Down_Interval.
type Stop struct{}

// Tick tells the instance that the time passed to Handle has reached
// NextDeadline (or later).
type Tick struct{}

// AdvertReceived is a valid advertisement for this virtual router from another
// router. The caller has already dropped malformed and foreign packets.
type AdvertReceived struct {
	From     netip.Addr
	Priority uint8
	Interval time.Duration // the sender's advertisement interval
}

// AdvertDropped tells a backup that an advertisement for this virtual router
// came and was refused (another address list, auth_pass, interval or
// version). It changes no timer: a backup that hears only such adverts
// still takes over after Master_Down_Interval, as the RFC says; the
// takeover then names the dropped adverts instead of a silent master, which
// is what the operator must fix.
type AdvertDropped struct {
	From netip.Addr
	Why  string // what differs, e.g. "virtual IPs [198.51.100.20], ours [198.51.100.10]"
}

// FaultChanged raises or clears one reason for FAULT, such as "link eth0
// down". The instance is in FAULT while any reason is raised.
type FaultChanged struct {
	Reason string
	Active bool
}

// PriorityChanged sets the effective priority, already clamped by the caller
// (keepalived's weights: 1..254). It is ignored for the address owner.
type PriorityChanged struct {
	Priority uint8
}

// Resign makes a master step down to backup, as keepalived's sync group
// makes the other members step down when one of them becomes backup: it
// advertises priority 0, so that the other node takes over after
// Skew_Time, removes the addresses and waits as backup. It is ignored
// unless the instance is master.
type Resign struct {
	Reason string
}

func (Resign) event()          {}
func (Start) event()           {}
func (Stop) event()            {}
func (Tick) event()            {}
func (AdvertReceived) event()  {}
func (AdvertDropped) event()   {}
func (FaultChanged) event()    {}
func (PriorityChanged) event() {}

// Action is something the caller must do: SendAdvertisement, AddAddresses,
// RemoveAddresses, Announce, or report a Transition.
type Action interface{ action() }

// SendAdvertisement sends one advertisement with this priority and interval.
type SendAdvertisement struct {
	Priority uint8
	Interval time.Duration
}

// AddAddresses adds the virtual addresses to the interface.
type AddAddresses struct{}

// RemoveAddresses removes the virtual addresses from the interface.
type RemoveAddresses struct{}

// Announce sends gratuitous ARP for the virtual addresses so that hosts on
// the segment move their caches to us.
type Announce struct {
	Kind   AnnounceKind
	Reason string // why now, in words
}

// AnnounceKind says which announcement an Announce is.
type AnnounceKind int

// The announcements a master makes.
const (
	// BecameMaster is the announcement every new master makes.
	BecameMaster AnnounceKind = iota
	// AnnounceAgain repeats it for hosts that another master (a split brain
	// healing, an old master's farewell) may have taken.
	AnnounceAgain
)

// Transition reports a change of state and why it happened, in words an
// operator can act on.
type Transition struct {
	From, To State
	Reason   string
}

func (SendAdvertisement) action() {}
func (AddAddresses) action()      {}
func (RemoveAddresses) action()   {}
func (Announce) action()          {}
func (Transition) action()        {}

// Handle applies one event that happened at now and returns what the caller
// must do, in order.
func (in *Instance) Handle(now time.Time, ev Event) []Action {
	switch e := ev.(type) {
	case Start:
		return in.start(now)
	case Stop:
		return in.stop()
	case Tick:
		return in.tick(now)
	case AdvertReceived:
		return in.advertReceived(now, e)
	case AdvertDropped:
		// Only the master's own, or anyone's while no master is known: a
		// third router refused beside a master that then falls silent
		// must not take the blame for the takeover.
		if in.state == Backup && (!in.masterAddr.IsValid() || e.From == in.masterAddr) {
			in.droppedWhy = fmt.Sprintf("advertisements from %v were dropped: %s", e.From, e.Why)
		}
		return nil
	case FaultChanged:
		return in.faultChanged(now, e)
	case PriorityChanged:
		return in.priorityChanged(now, e)
	case Resign:
		return in.resign(now, e.Reason)
	case Hold:
		return in.hold(now, e)
	case MaintenanceChanged:
		return in.maintenanceChanged(now, e)
	}
	return nil
}

func (in *Instance) resign(now time.Time, why string) []Action {
	if in.state != Master {
		return nil
	}
	in.masterAddr = netip.Addr{}
	in.masterAdverInterval = in.cfg.AdvertInterval
	acts := in.becomeBackup(now, why)
	return append(acts, SendAdvertisement{Priority: 0, Interval: in.cfg.AdvertInterval}, RemoveAddresses{})
}

func (in *Instance) start(now time.Time) []Action {
	if in.state != Init {
		return nil
	}
	if len(in.faults) > 0 {
		return in.enterFault(fmt.Sprintf("starting with %s", in.faultList()))
	}
	return in.join(now, "started")
}

// join enters the election from INIT or FAULT: the owner becomes master at
// once, everyone else waits a Master_Down_Interval as backup.
func (in *Instance) join(now time.Time, why string) []Action {
	if in.maint {
		in.masterAdverInterval = in.cfg.AdvertInterval
		in.masterAddr = netip.Addr{}
		return in.becomeBackup(now, why+"; in maintenance ("+in.maintReason+"): staying out of the election")
	}
	if in.cfg.Priority == OwnerPriority {
		return in.becomeMaster(now, why+"; priority 255 owns the addresses")
	}
	in.masterAdverInterval = in.cfg.AdvertInterval
	in.masterAddr = netip.Addr{}
	return in.becomeBackup(now, fmt.Sprintf("%s; waiting %v for a master", why, rounded(in.MasterDownInterval())))
}

func (in *Instance) stop() []Action {
	if in.state == Init {
		return nil
	}
	return in.leave(Init, "stopped")
}

// leave moves to INIT or FAULT; a master resigns on the way out.
func (in *Instance) leave(to State, why string) []Action {
	wasMaster := in.state == Master
	in.masterAddr = netip.Addr{}
	acts := []Action{in.setState(to, why)}
	if wasMaster {
		acts = append(acts,
			SendAdvertisement{Priority: 0, Interval: in.cfg.AdvertInterval},
			RemoveAddresses{})
	}
	return acts
}

func (in *Instance) tick(now time.Time) []Action {
	switch in.state {
	case Master:
		if now.Before(in.advertAt) {
			return nil
		}
		// Keep the cadence of the schedule, but never fire a burst to catch up
		// after a stall: one advertisement, then the next interval from now.
		in.advertAt = in.advertAt.Add(in.cfg.AdvertInterval)
		if !in.advertAt.After(now) {
			in.advertAt = now.Add(in.cfg.AdvertInterval)
		}
		return []Action{in.advertisement()}
	case Backup:
		if in.maint || now.Before(in.masterDownAt) {
			return nil
		}
		if len(in.holds) > 0 {
			return in.heldExpiry(now)
		}
		why := fmt.Sprintf("no advertisement for Master_Down_Interval (%v)", rounded(in.MasterDownInterval()))
		switch {
		case in.downReason != "":
			why = in.downReason
		case in.ignoredWhy != "":
			// Its adverts came, but a preempting backup discards them
			// (RFC 5798 section 6.4.2): not a silent master.
			why = fmt.Sprintf("%s after Master_Down_Interval (%v)", in.ignoredWhy, rounded(in.MasterDownInterval()))
		case in.droppedWhy != "":
			// Adverts came but were refused: two nodes disagree on the
			// configuration, which saying "silent" would hide.
			why = fmt.Sprintf("no valid advertisement for Master_Down_Interval (%v); %s", rounded(in.MasterDownInterval()), in.droppedWhy)
		case in.masterAddr.IsValid():
			why = fmt.Sprintf("master %v silent for Master_Down_Interval (%v)", in.masterAddr, rounded(in.MasterDownInterval()))
		}
		return in.becomeMaster(now, why)
	}
	return nil
}

func (in *Instance) advertReceived(now time.Time, ad AdvertReceived) []Action {
	if ad.From == in.cfg.Address {
		return nil
	}
	switch in.state {
	case Backup:
		wanted := in.wantMaster
		acts := in.backupReceived(now, ad)
		if wanted && !in.wantMaster {
			acts = append(acts, WantMaster{Want: false})
		}
		return acts
	case Master:
		return in.masterReceived(now, ad)
	}
	return nil
}

// backupReceived is RFC 5798 section 6.4.2 with keepalived's preempt_delay
// and the optional early takeover from a lower-priority master.
func (in *Instance) backupReceived(now time.Time, ad AdvertReceived) []Action {
	if in.maint {
		if ad.Priority != 0 {
			in.follow(now, ad) // for status; no timer runs (NextDeadline)
		}
		return nil
	}
	if ad.Priority == 0 {
		// The master resigned: take over after Skew_Time, so that the backup
		// with the highest priority answers first.
		in.masterDownAt = now.Add(in.SkewTime())
		in.downReason = fmt.Sprintf("master %v resigned (priority 0)", ad.From)
		in.lowerSince = time.Time{}
		return nil
	}
	if ad.Priority >= in.effective || (!in.cfg.Preempt && !in.fellBelowUs(ad)) {
		in.follow(now, ad)
		in.lowerSince = time.Time{}
		return nil
	}
	if !in.cfg.Preempt {
		// The master we followed fell below us (its health failed): without
		// preemption we would keep a sick master forever, which is what
		// keepalived's nopreempt does to weight-based checks. Take over as
		// from a resignation; no preempt_delay, as nothing returns here.
		in.takeOverSoon(now, fmt.Sprintf("master %v fell to priority %d, below our %d: taking over", ad.From, ad.Priority, in.effective))
		return nil
	}
	// A master with lower priority than ours, and we preempt.
	if in.lowerSince.IsZero() {
		in.lowerSince = now
	}
	if now.Before(in.lowerSince.Add(in.cfg.PreemptDelay)) {
		// preempt_delay: keep following it until the delay has passed.
		in.follow(now, ad)
		return nil
	}
	in.takeOverSoon(now, fmt.Sprintf("master %v advertises priority %d, below our %d: preempting", ad.From, ad.Priority, in.effective))
	return nil
}

// fellBelowUs reports whether ad comes from the master we follow, whose
// priority was at least ours and now is below it.
func (in *Instance) fellBelowUs(ad AdvertReceived) bool {
	return ad.From == in.masterAddr && in.masterPriority >= in.effective && ad.Priority < in.effective
}

// takeOverSoon handles an advertisement we will not follow: with
// LowerPriorityIsResignation we take over after Skew_Time; otherwise the
// advertisement is discarded and Master_Down_Timer runs out, and the
// takeover names the master we ignored rather than calling it silent.
func (in *Instance) takeOverSoon(now time.Time, why string) {
	in.ignoredWhy = why
	if in.cfg.LowerPriorityIsResignation {
		if at := now.Add(in.SkewTime()); at.Before(in.masterDownAt) {
			in.masterDownAt = at
			in.downReason = why + " (fast_preempt: after Skew_Time)"
		}
	}
}

// follow accepts the sender as our master and restarts Master_Down_Timer.
func (in *Instance) follow(now time.Time, ad AdvertReceived) {
	in.downReason = ""
	in.ignoredWhy = ""
	in.droppedWhy = ""
	in.wantMaster = false
	in.masterAddr = ad.From
	in.masterPriority = ad.Priority
	if in.cfg.Version == 3 && ad.Interval > 0 {
		in.masterAdverInterval = ad.Interval
	}
	in.masterDownAt = now.Add(in.MasterDownInterval())
}

// masterReceived is RFC 5798 section 6.4.3, plus keepalived's immediate
// answer to a lower priority so that the other router steps back at once.
func (in *Instance) masterReceived(now time.Time, ad AdvertReceived) []Action {
	if ad.Priority == 0 {
		in.advertAt = now.Add(in.cfg.AdvertInterval)
		return []Action{in.advertisement()}
	}
	higher := ad.Priority > in.advertised() ||
		(ad.Priority == in.advertised() && ad.From.Compare(in.cfg.Address) > 0)
	if !higher {
		// Another router thinks it is master: a split brain is healing.
		// Answer at once so that it steps back, and announce the addresses
		// again, since hosts on its side have their caches pointing at it.
		// At most once a second, in case it keeps advertising (one-way loss).
		in.advertAt = now.Add(in.cfg.AdvertInterval)
		acts := []Action{in.advertisement()}
		if !now.Before(in.reannounceAt) {
			in.reannounceAt = now.Add(reannounceEvery)
			// Right after we took over, this is the old master's farewell (a
			// preemption or a handover), not a split brain: words an
			// operator alerts on must not fire on every preemption.
			what := "split brain healed"
			if now.Sub(in.masterSince) < in.MasterDownInterval() {
				what = "the previous master stepping down"
			}
			acts = append(acts, Announce{Kind: AnnounceAgain, Reason: fmt.Sprintf("%v also advertised as master (priority %d): %s", ad.From, ad.Priority, what)})
		}
		return acts
	}
	why := fmt.Sprintf("%v advertises priority %d, above our %d", ad.From, ad.Priority, in.advertised())
	if in.maint {
		why = fmt.Sprintf("%v took over (priority %d) from us in maintenance (%s)", ad.From, ad.Priority, in.maintReason)
	} else if ad.Priority == in.effective {
		why = fmt.Sprintf("%v advertises the same priority %d from a higher address", ad.From, ad.Priority)
	}
	in.follow(now, ad)
	in.lowerSince = time.Time{}
	// One last advertisement with our priority tells the winner that we were
	// master too, so that it announces the addresses again: after a split
	// brain, hosts on our side still send to our MAC. Without it the winner
	// would learn of the split only if we had advertised after the heal.
	return []Action{in.setState(Backup, why), RemoveAddresses{},
		SendAdvertisement{Priority: in.advertised(), Interval: in.cfg.AdvertInterval}}
}

func (in *Instance) faultChanged(now time.Time, f FaultChanged) []Action {
	if f.Active == in.faults[f.Reason] {
		return nil
	}
	if f.Active {
		in.faults[f.Reason] = true
	} else {
		delete(in.faults, f.Reason)
	}
	switch {
	case in.state == Init:
		return nil
	case len(in.faults) > 0 && in.state != Fault:
		return in.enterFault(f.Reason)
	case len(in.faults) == 0 && in.state == Fault:
		return in.join(now, f.Reason+" cleared")
	}
	return nil
}

func (in *Instance) enterFault(why string) []Action {
	return in.leave(Fault, why)
}

func (in *Instance) priorityChanged(now time.Time, p PriorityChanged) []Action {
	if in.cfg.Priority == OwnerPriority || p.Priority == 0 || p.Priority == in.effective {
		return nil
	}
	in.effective = p.Priority
	if in.state == Master {
		// Tell the backups now: one of them may now outrank us.
		in.advertAt = now.Add(in.cfg.AdvertInterval)
		return []Action{in.advertisement()}
	}
	return nil
}

func (in *Instance) becomeMaster(now time.Time, why string) []Action {
	in.advertAt = now.Add(in.cfg.AdvertInterval)
	in.lowerSince = time.Time{}
	t := in.setState(Master, why)
	in.masterSince = now
	return []Action{t, AddAddresses{}, in.advertisement(), Announce{Kind: BecameMaster, Reason: "on becoming master"}}
}

func (in *Instance) becomeBackup(now time.Time, why string) []Action {
	in.masterDownAt = now.Add(in.MasterDownInterval())
	in.lowerSince = time.Time{}
	return []Action{in.setState(Backup, why)}
}

func (in *Instance) setState(to State, why string) Transition {
	in.downReason = ""
	in.ignoredWhy = ""
	in.droppedWhy = ""
	in.wantMaster = false
	t := Transition{From: in.state, To: to, Reason: why}
	in.state = to
	in.transitions++
	return t
}

func (in *Instance) advertisement() SendAdvertisement {
	return SendAdvertisement{Priority: in.advertised(), Interval: in.cfg.AdvertInterval}
}

func (in *Instance) faultList() string {
	return strings.Join(in.Faults(), ", ")
}
