// Package health turns check results into the health of each check (rise and
// fall hysteresis), runs checks on their schedule, and computes an instance's
// effective VRRP priority from the checks it tracks with keepalived's weight
// semantics. Hysteresis and Effective are pure; Scheduler is the shell that
// runs checks through the plugins.
package health

// Hysteresis decides a check's health from consecutive results: rise passes
// in a row make it healthy, fall failures in a row unhealthy. Before the first
// result its health is unknown, and the first result decides at once (as
// keepalived's scripts leave their initial state), so that an instance need
// not wait rise × interval to know where it stands at start.
type Hysteresis struct {
	rise, fall int

	known, healthy      bool
	passes, failures    int
	consecutiveFailures int
}

// NewHysteresis returns the hysteresis for rise and fall (each at least 1).
func NewHysteresis(rise, fall int) *Hysteresis {
	return &Hysteresis{rise: max(rise, 1), fall: max(fall, 1)}
}

// Observe records one result and reports whether the health changed
// (including from unknown to known).
func (h *Hysteresis) Observe(pass bool) (changed bool) {
	if pass {
		h.passes++
		h.failures = 0
		h.consecutiveFailures = 0
	} else {
		h.failures++
		h.passes = 0
		h.consecutiveFailures++
	}
	switch {
	case !h.known:
		h.known, h.healthy = true, pass
		return true
	case h.healthy && h.failures >= h.fall:
		h.healthy = false
		return true
	case !h.healthy && h.passes >= h.rise:
		h.healthy = true
		return true
	}
	return false
}

// Healthy reports the current health; known is false before any result.
func (h *Hysteresis) Healthy() (healthy, known bool) { return h.healthy, h.known }

// ConsecutiveFailures counts failed results since the last pass.
func (h *Hysteresis) ConsecutiveFailures() int { return h.consecutiveFailures }

// Carry starts h from a health known before (a check whose settings a reload
// changed): it holds until rise or fall results say otherwise, as if the
// check had never stopped, so that a changed interval never makes a master
// advertise a lowered priority in between, nor one failure right after a
// routine reload move the VIPs.
func (h *Hysteresis) Carry(healthy bool) {
	h.known, h.healthy = true, healthy
}
