// Package timegrid aligns wake-ups to a grid of instants shared by every
// timer of the process, so that timers due close together expire at the
// same instant and wake the process once instead of once each.
//
// At 200 VRRP instances every instance has its own deadline (its next
// advert as master, its master-down time as backup); spread over the
// interval, they woke the process 2,000 times a second. Aligned to a 2 ms
// grid they wake it at most 500 times, and a master sends its adverts in
// small bursts, as keepalived's single timer thread does.
package timegrid

import "time"

// Align returns the first instant at or after t that is a whole multiple of
// step since the Unix epoch. The grid is read from the wall clock, which
// every timer of the process shares; the result keeps t's monotonic
// reading, so a step of the wall clock moves a wake-up by less than step
// and never makes a timer fire early.
func Align(t time.Time, step time.Duration) time.Time {
	if step <= 0 {
		return t
	}
	off := time.Duration(t.UnixNano() % int64(step))
	if off < 0 {
		off += step
	}
	if off == 0 {
		return t
	}
	return t.Add(step - off)
}

// Step is the grid for timers of a protocol whose events come every
// interval: a fiftieth of it, and no more than 2 ms. A fiftieth divides any
// interval, so a periodic timer stays on the grid without drift.
func Step(interval time.Duration) time.Duration {
	return min(interval/50, 2*time.Millisecond)
}
