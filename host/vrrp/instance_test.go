package vrrp

import (
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	t0    = time.Unix(1_000_000, 0)
	addrA = netip.MustParseAddr("198.51.100.1")
	addrB = netip.MustParseAddr("198.51.100.2")
)

func cfg(mod func(*Config)) Config {
	c := Config{VRID: 51, Priority: 100, Version: 3, AdvertInterval: time.Second, Preempt: true, Address: addrA}
	if mod != nil {
		mod(&c)
	}
	return c
}

func newInstance(t *testing.T, c Config) *Instance {
	t.Helper()
	in, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// kinds reduces actions to their types (and a Transition to its target
// state) so that tests read as the sequence the RFC prescribes.
func kinds(acts []Action) []string {
	var out []string
	for _, a := range acts {
		switch a := a.(type) {
		case Transition:
			out = append(out, "->"+a.To.String())
		case SendAdvertisement:
			out = append(out, "advert:"+strconv.Itoa(int(a.Priority)))
		case AddAddresses:
			out = append(out, "add")
		case RemoveAddresses:
			out = append(out, "remove")
		case Announce:
			out = append(out, "garp")
		}
	}
	return out
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"vrid 0", func(c *Config) { c.VRID = 0 }},
		{"priority 0", func(c *Config) { c.Priority = 0 }},
		{"version 4", func(c *Config) { c.Version = 4 }},
		{"zero interval", func(c *Config) { c.AdvertInterval = 0 }},
		{"v2 with an ipv6 address", func(c *Config) { c.Version = 2; c.Address = netip.MustParseAddr("2001:db8::1") }},
		{"address with a zone", func(c *Config) { c.Address = netip.MustParseAddr("fe80::1%eth0") }},
		{"no address", func(c *Config) { c.Address = netip.Addr{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(cfg(tt.mod)); err == nil {
				t.Fatal("New accepted a bad config")
			}
		})
	}
}

func TestTimers(t *testing.T) {
	tests := []struct {
		name     string
		mod      func(*Config)
		skew     time.Duration
		downTime time.Duration
	}{
		// RFC 5798: Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256.
		{"v3 priority 100 at 1s", nil, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{"v3 priority 100 at 100ms", func(c *Config) { c.AdvertInterval = 100 * time.Millisecond }, 60937500 * time.Nanosecond, 360937500 * time.Nanosecond},
		{"v3 priority 254 at 1s", func(c *Config) { c.Priority = 254 }, 7812500 * time.Nanosecond, 3007812500 * time.Nanosecond},
		// RFC 3768: Skew_Time = (256 - Priority) / 256 seconds, whatever the interval.
		{"v2 priority 100 at 2s", func(c *Config) { c.Version = 2; c.AdvertInterval = 2 * time.Second }, 609375 * time.Microsecond, 6609375 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInstance(t, cfg(tt.mod))
			if got := in.SkewTime(); got != tt.skew {
				t.Errorf("SkewTime = %v, want %v", got, tt.skew)
			}
			if got := in.MasterDownInterval(); got != tt.downTime {
				t.Errorf("MasterDownInterval = %v, want %v", got, tt.downTime)
			}
		})
	}
}

// step is one event at an offset from t0, with what the instance must do.
type step struct {
	at    time.Duration
	ev    Event
	want  []string // nil means no action
	state State
}

func run(t *testing.T, in *Instance, steps []step) {
	t.Helper()
	for i, s := range steps {
		got := kinds(in.Handle(t0.Add(s.at), s.ev))
		if !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d (%T at %v): actions %v, want %v", i, s.ev, s.at, got, s.want)
		}
		if in.State() != s.state {
			t.Fatalf("step %d (%T at %v): state %v, want %v", i, s.ev, s.at, in.State(), s.state)
		}
	}
}

func advert(from netip.Addr, prio uint8, every time.Duration) AdvertReceived {
	return AdvertReceived{From: from, Priority: prio, Interval: every}
}

func TestTransitions(t *testing.T) {
	ms := time.Millisecond
	becomeMaster := []string{"->MASTER", "add", "advert:100", "garp"}
	tests := []struct {
		name  string
		mod   func(*Config)
		steps []step
	}{
		{"backup takes over when Master_Down_Interval passes", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3609 * ms, Tick{}, nil, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
		}},
		{"owner becomes master at once", func(c *Config) { c.Priority = 255 }, []step{
			{0, Start{}, []string{"->MASTER", "add", "advert:255", "garp"}, Master},
		}},
		{"backup follows a higher priority and restarts its timer", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3 * time.Second, advert(addrB, 150, time.Second), nil, Backup},
			{6 * time.Second, Tick{}, nil, Backup},
			{6700 * ms, Tick{}, becomeMaster, Master},
		}},
		{"backup follows an equal priority", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3 * time.Second, advert(addrB, 100, time.Second), nil, Backup},
			{3700 * ms, Tick{}, nil, Backup},
		}},
		{"preempting backup ignores a lower priority and takes over at Master_Down_Interval", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3 * time.Second, advert(addrB, 50, time.Second), nil, Backup},
			{3 * time.Second, Tick{}, nil, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
		}},
		{"lower priority as resignation: takeover after Skew_Time", func(c *Config) { c.LowerPriorityIsResignation = true }, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{1 * time.Second, advert(addrB, 50, time.Second), nil, Backup},
			{1609 * ms, Tick{}, nil, Backup},
			{1610 * ms, Tick{}, becomeMaster, Master},
		}},
		{"non-preempting backup follows a lower priority", func(c *Config) { c.Preempt = false }, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3 * time.Second, advert(addrB, 50, time.Second), nil, Backup},
			{3610 * ms, Tick{}, nil, Backup},
			{6610 * ms, Tick{}, becomeMaster, Master},
		}},
		{"non-preempting backup takes over when the master it follows falls below it", func(c *Config) { c.Preempt = false }, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{1 * time.Second, advert(addrB, 150, time.Second), nil, Backup},
			{2 * time.Second, advert(addrB, 90, time.Second), nil, Backup},
			{3 * time.Second, advert(addrB, 90, time.Second), nil, Backup},
			// Master_Down_Interval after the last advertisement it followed (1 s)
			{4609 * ms, Tick{}, nil, Backup},
			{4610 * ms, Tick{}, becomeMaster, Master},
		}},
		{"... and after Skew_Time with fast takeover", func(c *Config) { c.Preempt = false; c.LowerPriorityIsResignation = true }, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{1 * time.Second, advert(addrB, 150, time.Second), nil, Backup},
			{2 * time.Second, advert(addrB, 90, time.Second), nil, Backup},
			{2609 * ms, Tick{}, nil, Backup},
			{2610 * ms, Tick{}, becomeMaster, Master},
		}},
		{"non-preempting backup keeps following a master that was below it from the start", func(c *Config) { c.Preempt = false; c.LowerPriorityIsResignation = true }, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{1 * time.Second, advert(addrB, 90, time.Second), nil, Backup},
			{2 * time.Second, advert(addrB, 80, time.Second), nil, Backup},
			{5 * time.Second, advert(addrB, 80, time.Second), nil, Backup},
			{8 * time.Second, Tick{}, nil, Backup},
		}},
		{"priority 0 makes the backup take over after Skew_Time", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{1 * time.Second, advert(addrB, 150, time.Second), nil, Backup},
			{2 * time.Second, advert(addrB, 0, time.Second), nil, Backup},
			{2609 * ms, Tick{}, nil, Backup},
			{2610 * ms, Tick{}, becomeMaster, Master},
		}},
		{"v3 backup adopts the master's interval", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{0, advert(addrB, 150, 100*ms), nil, Backup},
			// 3 × 100 ms + (156 × 100 ms)/256 = 360.9 ms
			{360 * ms, Tick{}, nil, Backup},
			{361 * ms, Tick{}, becomeMaster, Master},
		}},
		{"v2 backup keeps its own interval", func(c *Config) { c.Version = 2 }, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{0, advert(addrB, 150, 100*ms), nil, Backup},
			{361 * ms, Tick{}, nil, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
		}},
		{"master advertises every interval", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
			{4609 * ms, Tick{}, nil, Master},
			{4610 * ms, Tick{}, []string{"advert:100"}, Master},
			{5610 * ms, Tick{}, []string{"advert:100"}, Master},
			// a stall of 3 s: one advertisement, not a catch-up burst
			{8700 * ms, Tick{}, []string{"advert:100"}, Master},
			{8701 * ms, Tick{}, nil, Master},
			{9700 * ms, Tick{}, []string{"advert:100"}, Master},
		}},
		{"master steps down for a higher priority", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
			{4 * time.Second, advert(addrB, 200, time.Second), []string{"->BACKUP", "remove", "advert:100"}, Backup},
		}},
		{"master steps down for an equal priority from a higher address", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
			{4 * time.Second, advert(addrB, 100, time.Second), []string{"->BACKUP", "remove", "advert:100"}, Backup},
		}},
		{"master keeps an equal priority from a lower address and answers", func(c *Config) { c.Address = addrB }, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
			{4 * time.Second, advert(addrA, 100, time.Second), []string{"advert:100", "garp"}, Master},
		}},
		{"master answers a lower priority at once and announces again (split brain)", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
			{4 * time.Second, advert(addrB, 50, time.Second), []string{"advert:100", "garp"}, Master},
			// the schedule restarts from the answer
			{4610 * ms, Tick{}, nil, Master},
			// a router that keeps advertising gets an answer each time, but
			// the addresses are announced again at most once a second
			{4700 * ms, advert(addrB, 50, time.Second), []string{"advert:100"}, Master},
			{4900 * ms, advert(addrB, 50, time.Second), []string{"advert:100"}, Master},
			{5 * time.Second, advert(addrB, 50, time.Second), []string{"advert:100", "garp"}, Master},
		}},
		{"master answers a resignation at once", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
			{4 * time.Second, advert(addrB, 0, time.Second), []string{"advert:100"}, Master},
		}},
		{"master resigns with priority 0 on stop", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
			{4 * time.Second, Stop{}, []string{"->INIT", "advert:0", "remove"}, Init},
			{5 * time.Second, Tick{}, nil, Init},
			{5 * time.Second, advert(addrB, 200, time.Second), nil, Init},
		}},
		{"backup stops quietly", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{1 * time.Second, Stop{}, []string{"->INIT"}, Init},
		}},
		{"master enters FAULT with priority 0 and comes back as backup", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
			{4 * time.Second, FaultChanged{Reason: "link eth0 down", Active: true}, []string{"->FAULT", "advert:0", "remove"}, Fault},
			{5 * time.Second, Tick{}, nil, Fault},
			{5 * time.Second, advert(addrB, 50, time.Second), nil, Fault},
			{6 * time.Second, FaultChanged{Reason: "link eth0 down", Active: false}, []string{"->BACKUP"}, Backup},
			{9609 * ms, Tick{}, nil, Backup},
			{9610 * ms, Tick{}, becomeMaster, Master},
		}},
		{"FAULT holds while any reason is raised", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{0, FaultChanged{Reason: "link eth0 down", Active: true}, []string{"->FAULT"}, Fault},
			{0, FaultChanged{Reason: "link eth1 down", Active: true}, nil, Fault},
			{0, FaultChanged{Reason: "link eth0 down", Active: true}, nil, Fault},
			{0, FaultChanged{Reason: "link eth0 down", Active: false}, nil, Fault},
			{0, FaultChanged{Reason: "link eth1 down", Active: false}, []string{"->BACKUP"}, Backup},
		}},
		{"a fault raised before start starts in FAULT", nil, []step{
			{0, FaultChanged{Reason: "link eth0 down", Active: true}, nil, Init},
			{0, Start{}, []string{"->FAULT"}, Fault},
		}},
		{"owner leaves FAULT straight to MASTER", func(c *Config) { c.Priority = 255 }, []step{
			{0, FaultChanged{Reason: "link eth0 down", Active: true}, nil, Init},
			{0, Start{}, []string{"->FAULT"}, Fault},
			{1 * time.Second, FaultChanged{Reason: "link eth0 down", Active: false}, []string{"->MASTER", "add", "advert:255", "garp"}, Master},
		}},
		{"preempt_delay: follow a lower master until the delay has passed", func(c *Config) { c.PreemptDelay = 5 * time.Second }, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{1 * time.Second, advert(addrB, 50, time.Second), nil, Backup},
			{2 * time.Second, advert(addrB, 50, time.Second), nil, Backup},
			{5 * time.Second, advert(addrB, 50, time.Second), nil, Backup},
			{5 * time.Second, Tick{}, nil, Backup},
			// at 6 s the delay is over: adverts no longer restart the timer,
			// so it runs out 3.61 s after the last one that did (5 s).
			{6 * time.Second, advert(addrB, 50, time.Second), nil, Backup},
			{7 * time.Second, advert(addrB, 50, time.Second), nil, Backup},
			{8609 * ms, Tick{}, nil, Backup},
			{8610 * ms, Tick{}, becomeMaster, Master},
		}},
		{"master announces a priority change at once", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
			{4 * time.Second, PriorityChanged{Priority: 40}, []string{"advert:40"}, Master},
			{4 * time.Second, PriorityChanged{Priority: 40}, nil, Master},
			{4500 * ms, advert(addrB, 50, time.Second), []string{"->BACKUP", "remove", "advert:40"}, Backup},
		}},
		{"owner priority is never moved", func(c *Config) { c.Priority = 255 }, []step{
			{0, Start{}, []string{"->MASTER", "add", "advert:255", "garp"}, Master},
			{1 * time.Second, PriorityChanged{Priority: 195}, nil, Master},
			{1 * time.Second, Tick{}, []string{"advert:255"}, Master},
		}},
		{"own advertisements are ignored", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{1 * time.Second, advert(addrA, 200, time.Second), nil, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
		}},
		{"start twice is harmless", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{0, Start{}, nil, Backup},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, newInstance(t, cfg(tt.mod)), tt.steps)
		})
	}
}

func TestTransitionReasonsNameTheCause(t *testing.T) {
	in := newInstance(t, cfg(nil))
	in.Handle(t0, Start{})
	in.Handle(t0, advert(addrB, 150, time.Second))
	acts := in.Handle(t0.Add(10*time.Second), Tick{})
	tr, ok := acts[0].(Transition)
	if !ok || tr.Reason == "" || tr.From != Backup || tr.To != Master {
		t.Fatalf("first action %#v, want a BACKUP->MASTER transition with a reason", acts[0])
	}
	if want := "198.51.100.2"; !strings.Contains(tr.Reason, want) {
		t.Errorf("reason %q does not name the silent master %s", tr.Reason, want)
	}

	fast := newInstance(t, cfg(func(c *Config) { c.LowerPriorityIsResignation = true }))
	fast.Handle(t0, Start{})
	fast.Handle(t0, advert(addrB, 50, time.Second))
	acts = fast.Handle(t0.Add(time.Second), Tick{})
	if tr := acts[0].(Transition); !strings.Contains(tr.Reason, "below our 100") || !strings.Contains(tr.Reason, "fast_preempt") {
		t.Errorf("early takeover's reason %q does not say why", tr.Reason)
	}
	resigned := newInstance(t, cfg(nil))
	resigned.Handle(t0, Start{})
	resigned.Handle(t0, advert(addrB, 0, time.Second))
	acts = resigned.Handle(t0.Add(time.Second), Tick{})
	if tr := acts[0].(Transition); !strings.Contains(tr.Reason, "resigned") {
		t.Errorf("takeover after a resignation: reason %q", tr.Reason)
	}
	if in.Transitions() != 2 {
		t.Errorf("Transitions = %d, want 2", in.Transitions())
	}
}

func TestReconfigureKeepsTheState(t *testing.T) {
	in := newInstance(t, cfg(nil))
	in.Handle(t0, Start{})
	in.Handle(t0.Add(3610*time.Millisecond), Tick{})
	if in.State() != Master {
		t.Fatal("not master")
	}
	c := in.Config()
	c.AdvertInterval = 500 * time.Millisecond
	c.Preempt = false
	if err := in.Reconfigure(c); err != nil {
		t.Fatal(err)
	}
	if in.State() != Master || in.Transitions() != 2 {
		t.Fatalf("state %v after reconfigure", in.State())
	}
	// The next advertisement comes on the new interval.
	if got := in.NextDeadline(); !got.Equal(t0.Add(4110 * time.Millisecond)) {
		t.Fatalf("next advertisement at %v, want 4.11s", got.Sub(t0))
	}
	if acts := kinds(in.Handle(t0.Add(4110*time.Millisecond), Tick{})); len(acts) != 1 {
		t.Fatalf("actions %v", acts)
	}

	for name, mod := range map[string]func(*Config){
		"vrid":    func(c *Config) { c.VRID = 52 },
		"version": func(c *Config) { c.Version = 2 },
		"address": func(c *Config) { c.Address = addrB },
		"owner":   func(c *Config) { c.Priority = 255 },
		"invalid": func(c *Config) { c.AdvertInterval = 0 },
	} {
		c := in.Config()
		mod(&c)
		if err := in.Reconfigure(c); err == nil {
			t.Errorf("%s change accepted", name)
		}
	}
}

func TestOnlyRestartsTimer(t *testing.T) {
	ms := time.Millisecond
	following := []step{
		{0, Start{}, []string{"->BACKUP"}, Backup},
		{time.Second, advert(addrB, 150, time.Second), nil, Backup},
	}
	addrC := netip.MustParseAddr("198.51.100.3")
	tests := []struct {
		name  string
		mod   func(*Config)
		steps []step
		ad    AdvertReceived
		want  bool
	}{
		{"the same advert from the master we follow", nil, following, advert(addrB, 150, time.Second), true},
		{"before any master was heard", nil, following[:1], advert(addrB, 150, time.Second), false},
		{"another sender", nil, following, advert(addrC, 150, time.Second), false},
		{"another priority", nil, following, advert(addrB, 140, time.Second), false},
		{"another interval", nil, following, advert(addrB, 150, 2*time.Second), false},
		{"resignation", nil, following, advert(addrB, 0, time.Second), false},
		{"after our priority rose above the master's", nil,
			append(following[:2:2], step{1500 * ms, PriorityChanged{Priority: 200}, nil, Backup}),
			advert(addrB, 150, time.Second), false},
		{"a master below us, not preempting", func(c *Config) { c.Preempt = false },
			[]step{following[0], {time.Second, advert(addrB, 50, time.Second), nil, Backup}},
			advert(addrB, 50, time.Second), false},
		{"our master fell below us, not preempting: a takeover is pending", func(c *Config) { c.Preempt = false },
			append(following[:2:2], step{1500 * ms, advert(addrB, 50, time.Second), nil, Backup}),
			advert(addrB, 150, time.Second), false},
		{"after the master resigned", nil,
			append(following[:2:2], step{1500 * ms, advert(addrB, 0, time.Second), nil, Backup}),
			advert(addrB, 150, time.Second), false},
		{"as master", func(c *Config) { c.Priority = 255 },
			[]step{{0, Start{}, []string{"->MASTER", "add", "advert:255", "garp"}, Master}},
			advert(addrB, 255, time.Second), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := newInstance(t, cfg(tc.mod))
			run(t, in, tc.steps)
			if got := in.OnlyRestartsTimer(tc.ad); got != tc.want {
				t.Fatalf("OnlyRestartsTimer(%+v) = %v, want %v", tc.ad, got, tc.want)
			}
			if !tc.want {
				return
			}
			// What it promises: no action, the timer restarted from the
			// advert's arrival, and the next copy just as harmless.
			at := t0.Add(2 * time.Second)
			if acts := in.Handle(at, tc.ad); acts != nil {
				t.Errorf("handling it returned %v", kinds(acts))
			}
			if got, want := in.NextDeadline(), at.Add(in.MasterDownInterval()); !got.Equal(want) {
				t.Errorf("next deadline %v, want %v", got, want)
			}
			if !in.OnlyRestartsTimer(tc.ad) {
				t.Error("the next copy would not be harmless")
			}
		})
	}
}

// TestFarewellIsNotASplitBrain: the old master's last advert right after a
// takeover is announced as what it is; only a second master heard later is
// a split brain, the words an operator alerts on.
func TestFarewellIsNotASplitBrain(t *testing.T) {
	reason := func(acts []Action) string {
		for _, a := range acts {
			if an, ok := a.(Announce); ok {
				return an.Reason
			}
		}
		return ""
	}
	in := newInstance(t, cfg(nil))
	in.Handle(t0, Start{})
	if acts := in.Handle(t0.Add(3610*time.Millisecond), Tick{}); in.State() != Master {
		t.Fatalf("not master: %v", kinds(acts))
	}
	if r := reason(in.Handle(t0.Add(3700*time.Millisecond), advert(addrB, 50, time.Second))); !strings.Contains(r, "stepping down") {
		t.Errorf("farewell announced as %q", r)
	}
	if r := reason(in.Handle(t0.Add(20*time.Second), advert(addrB, 50, time.Second))); !strings.Contains(r, "split brain healed") {
		t.Errorf("a second master long after the takeover announced as %q", r)
	}
}
