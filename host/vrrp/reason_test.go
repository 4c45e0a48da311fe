package vrrp

import (
	"testing"
	"time"
)

// TestTakeoverReasonSaysWhatWasHeard: a backup that takes over after
// Master_Down_Interval says whether it heard nothing, heard its master fall
// silent, or heard a lower-priority master whose adverts it discarded to
// preempt it (RFC 5798 section 6.4.2), or heard adverts it had to refuse:
// only the first two are "silent".
func TestTakeoverReasonSaysWhatWasHeard(t *testing.T) {
	ms := time.Millisecond
	type ev struct {
		at time.Duration
		e  Event
	}
	tests := []struct {
		name   string
		mod    func(*Config)
		events []ev
		tickAt time.Duration
		want   string
	}{
		{"nothing heard", nil, nil, 4 * time.Second,
			"no advertisement for Master_Down_Interval (3.61s)"},
		{"master fell silent", nil, []ev{{0, advert(addrB, 150, time.Second)}}, 4 * time.Second,
			"master 198.51.100.2 silent for Master_Down_Interval (3.61s)"},
		{"lower-priority master heard and ignored from the start",
			func(c *Config) { c.Priority = 150 },
			[]ev{{ms, advert(addrB, 100, time.Second)}, {time.Second, advert(addrB, 100, time.Second)},
				{2 * time.Second, advert(addrB, 100, time.Second)}, {3 * time.Second, advert(addrB, 100, time.Second)}},
			4 * time.Second,
			"master 198.51.100.2 advertises priority 100, below our 150: preempting after Master_Down_Interval (3.41s)"},
		{"followed master, then our priority rose above it",
			nil,
			[]ev{{0, advert(addrB, 150, time.Second)}, {ms, PriorityChanged{Priority: 200}},
				{time.Second, advert(addrB, 150, time.Second)}, {2 * time.Second, advert(addrB, 150, time.Second)}},
			4 * time.Second,
			"master 198.51.100.2 advertises priority 150, below our 200: preempting after Master_Down_Interval (3.22s)"},
		{"lower master heard, then a higher one followed and fell silent",
			func(c *Config) { c.Priority = 150 },
			[]ev{{0, advert(addrB, 100, time.Second)}, {ms, advert(addrA.Next().Next(), 200, time.Second)}},
			4 * time.Second,
			"master 198.51.100.3 silent for Master_Down_Interval (3.41s)"},
		{"nopreempt: our master fell below us",
			func(c *Config) { c.Preempt = false },
			[]ev{{0, advert(addrB, 150, time.Second)}, {time.Second, advert(addrB, 50, time.Second)}},
			5 * time.Second,
			"master 198.51.100.2 fell to priority 50, below our 100: taking over after Master_Down_Interval (3.61s)"},
		{"master's adverts refused since (another address list)", nil,
			[]ev{{0, advert(addrB, 150, time.Second)},
				{time.Second, AdvertDropped{From: addrB, Why: "other virtual IPs [198.51.100.20]"}},
				{2 * time.Second, AdvertDropped{From: addrB, Why: "other virtual IPs [198.51.100.20]"}}},
			4 * time.Second,
			"no valid advertisement for Master_Down_Interval (3.61s); advertisements from 198.51.100.2 were dropped: other virtual IPs [198.51.100.20]"},
		{"only refused adverts heard", nil,
			[]ev{{time.Second, AdvertDropped{From: addrB, Why: "another auth_pass"}}},
			4 * time.Second,
			"no valid advertisement for Master_Down_Interval (3.61s); advertisements from 198.51.100.2 were dropped: another auth_pass"},
		{"a third router refused beside a master that then falls silent", nil,
			[]ev{{0, advert(addrB, 150, time.Second)},
				{time.Second, AdvertDropped{From: addrA.Next().Next(), Why: "another auth_pass"}}},
			4 * time.Second,
			"master 198.51.100.2 silent for Master_Down_Interval (3.61s)"},
		{"a refused advert, then the master's valid ones, then silence", nil,
			[]ev{{0, AdvertDropped{From: addrB, Why: "another auth_pass"}}, {time.Second, advert(addrB, 150, time.Second)}},
			5 * time.Second,
			"master 198.51.100.2 silent for Master_Down_Interval (3.61s)"},
		{"fast_preempt keeps its Skew_Time reason",
			func(c *Config) { c.Priority = 150; c.LowerPriorityIsResignation = true },
			[]ev{{0, advert(addrB, 100, time.Second)}},
			time.Second,
			"master 198.51.100.2 advertises priority 100, below our 150: preempting (fast_preempt: after Skew_Time)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInstance(t, cfg(tt.mod))
			in.Handle(t0, Start{})
			for _, e := range tt.events {
				if acts := in.Handle(t0.Add(e.at), e.e); len(acts) != 0 {
					t.Fatalf("%T at %v: actions %v", e.e, e.at, kinds(acts))
				}
			}
			acts := in.Handle(t0.Add(tt.tickAt), Tick{})
			if len(acts) == 0 {
				t.Fatalf("no takeover at %v", tt.tickAt)
			}
			tr, ok := acts[0].(Transition)
			if !ok || tr.To != Master {
				t.Fatalf("first action %#v, want a transition to MASTER", acts[0])
			}
			if tr.Reason != tt.want {
				t.Errorf("reason\n %q, want\n %q", tr.Reason, tt.want)
			}
		})
	}
}

func TestJoinReasonIsRounded(t *testing.T) {
	in := newInstance(t, cfg(func(c *Config) { c.Priority = 150; c.AdvertInterval = 100 * time.Millisecond }))
	acts := in.Handle(t0, Start{})
	if tr := acts[0].(Transition); tr.Reason != "started; waiting 341ms for a master" {
		t.Errorf("reason %q", tr.Reason)
	}
}
