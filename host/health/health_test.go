package health

import (
	"reflect"
	"testing"
)

func TestHysteresis(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		results    string // p = pass, f = fail
		changes    string // c = changed, . = not
		healthy    bool
	}{
		{"first pass decides", 3, 3, "p", "c", true},
		{"first failure decides", 3, 3, "f", "c", false},
		{"fall 2 needs two failures", 2, 2, "pfpff", "c...c", false},
		{"rise 3 needs three passes", 3, 1, "fppfppp", "c.....c", true},
		{"rise and fall 1 follow every result", 1, 1, "pfpf", "cccc", false},
		{"flapping inside the band changes nothing", 2, 3, "pffpffp", "c......", true},
		{"zero rise and fall act as 1", 0, 0, "pf", "cc", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHysteresis(tt.rise, tt.fall)
			if _, known := h.Healthy(); known {
				t.Fatal("health known before any result")
			}
			got := ""
			for _, r := range tt.results {
				if h.Observe(r == 'p') {
					got += "c"
				} else {
					got += "."
				}
			}
			if got != tt.changes {
				t.Errorf("changes %q, want %q", got, tt.changes)
			}
			if healthy, _ := h.Healthy(); healthy != tt.healthy {
				t.Errorf("healthy %v, want %v", healthy, tt.healthy)
			}
		})
	}
}

func TestConsecutiveFailures(t *testing.T) {
	h := NewHysteresis(1, 5)
	for range 3 {
		h.Observe(false)
	}
	if h.ConsecutiveFailures() != 3 {
		t.Fatalf("got %d", h.ConsecutiveFailures())
	}
	h.Observe(true)
	if h.ConsecutiveFailures() != 0 {
		t.Fatalf("got %d after a pass", h.ConsecutiveFailures())
	}
}

func TestEffective(t *testing.T) {
	type state struct{ healthy, known bool }
	tests := []struct {
		name   string
		base   uint8
		tracks []Track
		health map[string]state
		want   uint8
		faults []string
	}{
		{"negative weight applies while failing", 150, []Track{{"nginx", -60}}, map[string]state{"nginx": {false, true}}, 90, nil},
		{"negative weight idle while passing", 150, []Track{{"nginx", -60}}, map[string]state{"nginx": {true, true}}, 150, nil},
		{"positive weight applies while passing", 100, []Track{{"nginx", 20}}, map[string]state{"nginx": {true, true}}, 120, nil},
		{"positive weight idle while failing", 100, []Track{{"nginx", 20}}, map[string]state{"nginx": {false, true}}, 100, nil},
		{"weight 0 faults while failing", 150, []Track{{"nginx", 0}}, map[string]state{"nginx": {false, true}}, 150, []string{"check nginx failing"}},
		{"weight 0 fine while passing", 150, []Track{{"nginx", 0}}, map[string]state{"nginx": {true, true}}, 150, nil},
		{"unknown counts as failing", 150, []Track{{"nginx", -60}, {"tcp", 0}}, map[string]state{}, 90, []string{"check tcp failing"}},
		{"weights add up", 100, []Track{{"a", -30}, {"b", -30}, {"c", 10}}, map[string]state{"a": {false, true}, "b": {false, true}, "c": {true, true}}, 50, nil},
		{"clamped at 1", 50, []Track{{"a", -253}}, map[string]state{"a": {false, true}}, 1, nil},
		{"clamped at 254", 250, []Track{{"a", 100}}, map[string]state{"a": {true, true}}, 254, nil},
		{"owner never moves", 255, []Track{{"a", 0}}, map[string]state{"a": {false, true}}, 255, []string{"check a failing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, faults, moved := Effective(tt.base, tt.tracks, func(c string) (bool, bool) {
				s := tt.health[c]
				return s.healthy, s.known
			})
			if got != tt.want || !reflect.DeepEqual(faults, tt.faults) {
				t.Fatalf("Effective = %d %v, want %d %v", got, faults, tt.want, tt.faults)
			}
			if len(moved) != len(tt.tracks) {
				t.Fatalf("moved %v", moved)
			}
		})
	}
}

// TestCarriedHealthKeepsRiseAndFall: health carried over a reload is kept
// until fall failures (or rise passes) in a row, as for a check that never
// stopped.
func TestCarriedHealthKeepsRiseAndFall(t *testing.T) {
	h := NewHysteresis(2, 3)
	h.Carry(true)
	for i, pass := range []bool{false, false} {
		if h.Observe(pass); !isHealthy(h) {
			t.Fatalf("unhealthy after %d failures with fall 3", i+1)
		}
	}
	if !h.Observe(false) || isHealthy(h) {
		t.Fatal("still healthy after 3 failures with fall 3")
	}
	u := NewHysteresis(2, 3)
	u.Carry(false)
	if u.Observe(true); isHealthy(u) {
		t.Fatal("healthy after 1 pass with rise 2")
	}
	if !u.Observe(true) || !isHealthy(u) {
		t.Fatal("not healthy after 2 passes with rise 2")
	}
}

func isHealthy(h *Hysteresis) bool {
	ok, known := h.Healthy()
	return ok && known
}
