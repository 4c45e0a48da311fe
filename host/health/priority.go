package health

import "fmt"

// Track is one track_check of an instance.
type Track struct {
	Check  string
	Weight int // < 0 added while failing, > 0 added while passing, 0: FAULT while failing
}

// Moved says how one tracked check affects the instance now.
type Moved struct {
	Check   string
	Weight  int
	Healthy bool
	Applied int  // what it adds to the base priority now
	Fault   bool // it holds the instance in FAULT
}

// Effective computes keepalived's effective priority: base plus the weights
// that apply, clamped to 1..254. The address owner (255) is never moved. A
// check whose health is not known yet counts as failing: we never advertise
// health we have not seen. It also returns the FAULT reasons (weight-0 checks
// that fail) and how each check contributes, for status.
func Effective(base uint8, tracks []Track, health func(check string) (healthy, known bool)) (priority uint8, faults []string, moved []Moved) {
	sum := int(base)
	for _, t := range tracks {
		healthy, known := health(t.Check)
		ok := healthy && known
		m := Moved{Check: t.Check, Weight: t.Weight, Healthy: ok}
		switch {
		case t.Weight == 0 && !ok:
			m.Fault = true
			faults = append(faults, fmt.Sprintf("check %s failing", t.Check))
		case t.Weight < 0 && !ok, t.Weight > 0 && ok:
			m.Applied = t.Weight
			sum += t.Weight
		}
		moved = append(moved, m)
	}
	if base == 255 {
		return 255, faults, moved
	}
	return uint8(min(max(sum, 1), 254)), faults, moved
}
