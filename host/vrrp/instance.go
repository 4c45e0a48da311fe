// Package vrrp is the VRRP state machine of one virtual router (RFC 3768 and
// RFC 5798, section 6.4), written as a pure value: it opens no socket and reads
// no clock. The caller feeds it events stamped with the current time and
// carries out the actions it returns; NextDeadline tells the caller when to
// come back with a Tick.
//
// Beyond the RFCs it follows keepalived where operators rely on it: a master
// that hears a lower priority answers at once so the sender steps back
// quickly, preempt_delay holds off a takeover after start or after first
// hearing a lower-priority master, a master that enters FAULT resigns with
// priority 0, and (option LowerPriorityIsResignation) a preempting backup that
// hears a master of lower priority takes over after Skew_Time instead of
// waiting out the whole Master_Down_Interval.
package vrrp

import (
	"fmt"
	"net/netip"
	"sort"
	"time"
)

// State is the protocol state of an instance.
type State uint8

// The states of RFC 5798 section 6.4 plus FAULT, keepalived's state for an
// instance that must not take part in the election (a tracked link is down or a
// weight-0 check fails).
const (
	Init State = iota
	Backup
	Master
	Fault
)

func (s State) String() string {
	switch s {
	case Init:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// OwnerPriority is the priority of the router that owns the virtual addresses
// (RFC 5798 section 5.2.4): it becomes master at once and its priority is never
// moved by health.
const OwnerPriority = 255

// reannounceEvery limits the gratuitous ARP a master sends again when another
// router advertises as master too.
const reannounceEvery = time.Second

// Config is what the state machine needs to know about its virtual router.
type Config struct {
	VRID     uint8
	Priority uint8 // base priority, 1..255
	Version  uint8 // 2 or 3
	// AdvertInterval is our own Advertisement_Interval.
	AdvertInterval time.Duration
	Preempt        bool
	PreemptDelay   time.Duration
	// Address is our primary IPv4 address, or IPv6 link-local, on the interface (or the unicast
	// source); equal priorities are decided by the higher primary address.
	Address netip.Addr
	// LowerPriorityIsResignation makes a preempting backup treat an
	// advertisement of lower priority than its own as a resignation: it takes
	// over after Skew_Time, as after priority 0, instead of after the full
	// Master_Down_Interval. The higher priority wins either way; this only
	// shortens the time both sides spend deciding it.
	LowerPriorityIsResignation bool
}

// Instance is the state of one VRRP instance. The zero value is not usable;
// call New.
type Instance struct {
	cfg Config

	state     State
	effective uint8 // effective priority: base moved by health, 1..254, or 255

	// masterAdverInterval is Master_Adver_Interval: in v3 a backup adopts the
	// interval the master advertises.
	masterAdverInterval time.Duration
	masterAddr          netip.Addr
	masterPriority      uint8

	advertAt     time.Time // MASTER: when the next advertisement is due
	masterDownAt time.Time // BACKUP: when the master is declared down
	lowerSince   time.Time // BACKUP: first advert of a lower-priority master seen since the last higher one
	downReason   string    // BACKUP: why masterDownAt was brought forward, for the transition's reason
	ignoredWhy   string    // BACKUP: the lower-priority master whose adverts we let run out, for the transition's reason
	droppedWhy   string    // BACKUP: adverts refused since the last valid one, for the transition's reason
	reannounceAt time.Time // MASTER: earliest re-announcement after a split brain
	masterSince  time.Time // MASTER: when it became master

	faults      map[string]bool
	transitions int

	// Sync groups (hold.go): while held, a backup whose master is down
	// stays backup and says it wants to be master.
	holds       map[string]bool
	wantMaster  bool
	maint       bool   // in maintenance: see MaintenanceChanged
	maintReason string // why, for status
}

// New returns an instance in INIT. It validates the configuration so that a
// bad one is reported here and never reaches the protocol.
func New(cfg Config) (*Instance, error) {
	switch {
	case cfg.VRID == 0:
		return nil, fmt.Errorf("vrrp: virtual router id 0 is invalid; use 1 to 255")
	case cfg.Priority == 0:
		return nil, fmt.Errorf("vrrp: priority 0 is reserved for resignation; use 1 to 255")
	case cfg.Version != 2 && cfg.Version != 3:
		return nil, fmt.Errorf("vrrp: version %d is not supported; use 2 or 3", cfg.Version)
	case cfg.AdvertInterval <= 0:
		return nil, fmt.Errorf("vrrp: advertisement interval must be positive")
	case !cfg.Address.IsValid() || cfg.Address.Zone() != "":
		return nil, fmt.Errorf("vrrp: primary address %v is not an address without a zone", cfg.Address)
	case cfg.Version == 2 && !cfg.Address.Is4():
		return nil, fmt.Errorf("vrrp: primary address %v is not IPv4; VRRPv2 is IPv4 only", cfg.Address)
	}
	return &Instance{
		cfg:                 cfg,
		effective:           cfg.Priority,
		masterAdverInterval: cfg.AdvertInterval,
		faults:              map[string]bool{},
	}, nil
}

// Config returns the configuration the instance was built with.
func (in *Instance) Config() Config { return in.cfg }

// State returns the current state.
func (in *Instance) State() State { return in.state }

// EffectivePriority is the priority the instance advertises and elects with
// (MaintenancePriority while in maintenance).
func (in *Instance) EffectivePriority() uint8 { return in.advertised() }

// MasterAddress is the primary address of the current master as far as this
// instance knows: its own while MASTER, the last accepted advertisement's
// sender while BACKUP, invalid when unknown.
func (in *Instance) MasterAddress() netip.Addr {
	if in.state == Master {
		return in.cfg.Address
	}
	return in.masterAddr
}

// Transitions counts state changes since New.
func (in *Instance) Transitions() int { return in.transitions }

// AdvertInterval is the interval the instance currently uses: its own while
// MASTER, the master's (Master_Adver_Interval) otherwise.
func (in *Instance) AdvertInterval() time.Duration {
	if in.state == Master {
		return in.cfg.AdvertInterval
	}
	return in.masterAdverInterval
}

// Faults lists the reasons that currently hold the instance in FAULT.
func (in *Instance) Faults() []string {
	out := make([]string, 0, len(in.faults))
	for r := range in.faults {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// NumFaults is len(Faults()) without building the list.
func (in *Instance) NumFaults() int { return len(in.faults) }

// SkewTime is Skew_Time for our effective priority: RFC 3768 uses
// (256-Priority)/256 seconds, RFC 5798 scales it by Master_Adver_Interval.
func (in *Instance) SkewTime() time.Duration {
	p := time.Duration(256 - int(in.advertised()))
	if in.cfg.Version == 2 {
		return p * time.Second / 256
	}
	return p * in.masterAdverInterval / 256
}

// MasterDownInterval is 3 × Master_Adver_Interval + Skew_Time (RFC 5798
// section 6.1; in RFC 3768 the advertisement interval is our own, which a v2
// master must share).
func (in *Instance) MasterDownInterval() time.Duration {
	return 3*in.masterAdverInterval + in.SkewTime()
}

// OnlyRestartsTimer reports whether ad would do nothing but restart
// Master_Down_Timer: we are BACKUP and follow its sender, which advertises
// the priority (at or above ours) and interval we already follow it at, and
// no takeover is pending. A caller may then hand such an advertisement in
// late, at the time it arrived, provided it does so before any other event
// and no later than NextDeadline: the outcome is the same. A backup at 200
// instances learns nothing new from 2,000 adverts a second, and takes them
// in a few at a time.
func (in *Instance) OnlyRestartsTimer(ad AdvertReceived) bool {
	return in.state == Backup && !in.maint && ad.Priority != 0 && ad.From != in.cfg.Address &&
		ad.From == in.masterAddr && ad.Priority == in.masterPriority && ad.Priority >= in.effective &&
		in.lowerSince.IsZero() && in.downReason == "" && in.ignoredWhy == "" && in.droppedWhy == "" &&
		(in.cfg.Version != 3 || ad.Interval == in.masterAdverInterval)
}

// NextDeadline is when the caller must deliver a Tick, or the zero time when
// no timer runs.
func (in *Instance) NextDeadline() time.Time {
	switch in.state {
	case Master:
		return in.advertAt
	case Backup:
		if in.maint {
			return time.Time{} // out of the election: no takeover to time
		}
		return in.masterDownAt
	}
	return time.Time{}
}

// Reconfigure applies a changed configuration without leaving the current
// state: a master stays master, a backup keeps its timer. The VRID, version
// and primary address identify the virtual router on the wire and cannot
// change; the caller replaces the instance for those. A new base priority
// takes effect through the next PriorityChanged (the caller recomputes the
// effective priority from health).
func (in *Instance) Reconfigure(cfg Config) error {
	if _, err := New(cfg); err != nil {
		return err
	}
	switch {
	case cfg.VRID != in.cfg.VRID:
		return fmt.Errorf("vrrp: the virtual router id cannot change (%d to %d)", in.cfg.VRID, cfg.VRID)
	case cfg.Version != in.cfg.Version:
		return fmt.Errorf("vrrp: the version cannot change (%d to %d)", in.cfg.Version, cfg.Version)
	case cfg.Address != in.cfg.Address:
		return fmt.Errorf("vrrp: the primary address cannot change (%v to %v)", in.cfg.Address, cfg.Address)
	case (cfg.Priority == OwnerPriority) != (in.cfg.Priority == OwnerPriority):
		return fmt.Errorf("vrrp: becoming or ceasing to be the address owner (priority 255) needs a restart of the instance")
	}
	if in.state == Master && cfg.AdvertInterval != in.cfg.AdvertInterval {
		// The next advertisement goes out on the new schedule.
		in.advertAt = in.advertAt.Add(cfg.AdvertInterval - in.cfg.AdvertInterval)
	}
	if in.state != Master && in.masterAddr == (netip.Addr{}) {
		in.masterAdverInterval = cfg.AdvertInterval
	}
	in.cfg = cfg
	return nil
}
