package vrrp

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// segment is a simulated L2 segment: routers exchange advertisements
// instantly between the ones that can reach each other, on a fake clock with
// 1 ms resolution. It checks properties of whole elections, not single steps.
type segment struct {
	t       *testing.T
	now     time.Time
	routers []*Instance
	cut     map[[2]int]bool
	holds   []bool // who has the virtual addresses on its interface
}

func newSegment(t *testing.T, cfgs ...Config) *segment {
	s := &segment{t: t, now: t0, cut: map[[2]int]bool{}, holds: make([]bool, len(cfgs))}
	for _, c := range cfgs {
		s.routers = append(s.routers, newInstance(t, c))
	}
	return s
}

func (s *segment) reach(a, b int) bool { return !s.cut[[2]int{a, b}] && !s.cut[[2]int{b, a}] }

func (s *segment) handle(i int, ev Event) {
	queue := []struct {
		i  int
		ev Event
	}{{i, ev}}
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		for _, a := range s.routers[q.i].Handle(s.now, q.ev) {
			switch a := a.(type) {
			case AddAddresses:
				s.holds[q.i] = true
			case RemoveAddresses:
				s.holds[q.i] = false
			case SendAdvertisement:
				for j := range s.routers {
					if j != q.i && s.reach(q.i, j) {
						queue = append(queue, struct {
							i  int
							ev Event
						}{j, AdvertReceived{From: s.routers[q.i].cfg.Address, Priority: a.Priority, Interval: a.Interval}})
					}
				}
			}
		}
	}
}

func (s *segment) advance(d time.Duration) {
	end := s.now.Add(d)
	for s.now.Before(end) {
		s.now = s.now.Add(time.Millisecond)
		for i, r := range s.routers {
			if dl := r.NextDeadline(); !dl.IsZero() && !s.now.Before(dl) {
				s.handle(i, Tick{})
			}
		}
	}
}

// waitMaster advances until router want is the only master and the only
// holder of the addresses, and returns how long that took.
func (s *segment) waitMaster(want int, limit time.Duration) time.Duration {
	s.t.Helper()
	start := s.now
	for s.now.Sub(start) <= limit {
		if s.soleMaster() == want {
			return s.now.Sub(start)
		}
		s.advance(time.Millisecond)
	}
	s.t.Fatalf("after %v: states %v, holders %v; want router %d sole master", limit, s.states(), s.holds, want)
	return 0
}

func (s *segment) soleMaster() int {
	m := -1
	for i, r := range s.routers {
		if r.State() == Master || s.holds[i] {
			if m != -1 || r.State() != Master || !s.holds[i] {
				return -1
			}
			m = i
		}
	}
	return m
}

func (s *segment) states() string {
	out := ""
	for i, r := range s.routers {
		out += fmt.Sprintf("%d:%v ", i, r.State())
	}
	return out
}

func node(addr string, prio uint8, mod func(*Config)) Config {
	return cfg(func(c *Config) {
		c.Address = netip.MustParseAddr(addr)
		c.Priority = prio
		c.AdvertInterval = 100 * time.Millisecond
		if mod != nil {
			mod(c)
		}
	})
}

func TestSegmentElectionAndTakeover(t *testing.T) {
	for _, preempt := range []bool{true, false} {
		t.Run(fmt.Sprintf("preempt=%v", preempt), func(t *testing.T) {
			np := func(c *Config) { c.Preempt = preempt }
			s := newSegment(t, node("198.51.100.1", 150, np), node("198.51.100.2", 100, np))
			s.handle(0, Start{})
			s.handle(1, Start{})
			s.waitMaster(0, time.Second)
			s.advance(5 * time.Second)
			if s.soleMaster() != 0 {
				t.Fatalf("election did not hold: %v", s.states())
			}

			// Node 0 dies: its port goes down, so it sees its link go.
			s.cut[[2]int{0, 1}] = true
			s.handle(0, FaultChanged{Reason: "link down", Active: true})
			took := s.waitMaster(1, time.Second)
			// Master_Down_Interval of the backup: 300 ms + 156/256 × 100 ms.
			if took > 362*time.Millisecond {
				t.Errorf("takeover took %v, want at most Master_Down_Interval", took)
			}

			// Node 0 returns: it preempts back, or stays backup without preempt.
			delete(s.cut, [2]int{0, 1})
			s.handle(0, FaultChanged{Reason: "link down", Active: false})
			if preempt {
				s.waitMaster(0, time.Second)
			} else {
				s.advance(5 * time.Second)
				if s.soleMaster() != 1 || s.routers[0].State() != Backup {
					t.Fatalf("without preempt the returning node must stay backup: %v", s.states())
				}
			}
		})
	}
}

func TestSegmentPartitionHealsToOneMaster(t *testing.T) {
	for _, prios := range [][2]uint8{{150, 100}, {100, 150}, {100, 100}} {
		t.Run(fmt.Sprintf("priorities %v", prios), func(t *testing.T) {
			s := newSegment(t, node("198.51.100.1", prios[0], nil), node("198.51.100.2", prios[1], nil))
			s.handle(0, Start{})
			s.handle(1, Start{})
			winner := 0
			if prios[1] > prios[0] || prios[0] == prios[1] { // two masters with equal priority: the higher address wins
				winner = 1
			}
			// At start, equal priorities elect whichever timer runs out first.
			s.advance(time.Second)
			if s.soleMaster() == -1 {
				t.Fatalf("no single master after start: %v", s.states())
			}

			// Partition: both become master on their side.
			s.cut[[2]int{0, 1}] = true
			s.advance(2 * time.Second)
			if s.routers[0].State() != Master || s.routers[1].State() != Master {
				t.Fatalf("a partition must give two masters: %v", s.states())
			}

			// Heal: exactly one master within one advertisement interval.
			delete(s.cut, [2]int{0, 1})
			if took := s.waitMaster(winner, time.Second); took > 100*time.Millisecond {
				t.Errorf("heal took %v, want at most one advertisement interval", took)
			}
			s.advance(5 * time.Second)
			if s.soleMaster() != winner {
				t.Fatalf("not stable after heal: %v", s.states())
			}
		})
	}
}

func TestSegmentGracefulStopHandsOverWithinSkew(t *testing.T) {
	s := newSegment(t, node("198.51.100.1", 150, nil), node("198.51.100.2", 100, nil))
	s.handle(0, Start{})
	s.handle(1, Start{})
	s.waitMaster(0, time.Second)
	s.advance(time.Second)
	s.handle(0, Stop{})
	// Skew_Time of the backup at 100 ms: 156/256 × 100 ms = 61 ms.
	if took := s.waitMaster(1, time.Second); took > 62*time.Millisecond {
		t.Errorf("handover after stop took %v, want Skew_Time", took)
	}
}

func TestSegmentPriorityDropHandsOver(t *testing.T) {
	for _, early := range []bool{false, true} {
		t.Run(fmt.Sprintf("LowerPriorityIsResignation=%v", early), func(t *testing.T) {
			e := func(c *Config) { c.LowerPriorityIsResignation = early }
			s := newSegment(t, node("198.51.100.1", 150, e), node("198.51.100.2", 100, e))
			s.handle(0, Start{})
			s.handle(1, Start{})
			s.waitMaster(0, time.Second)
			s.advance(time.Second)
			s.handle(0, PriorityChanged{Priority: 90})
			took := s.waitMaster(1, time.Second)
			limit := 362 * time.Millisecond // Master_Down_Interval
			if early {
				limit = 62 * time.Millisecond // Skew_Time
			}
			if took > limit {
				t.Errorf("handover took %v, want at most %v", took, limit)
			}
		})
	}
}
