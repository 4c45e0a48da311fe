package vrrp

import "time"

// rounded keeps three significant digits of d for the words of a reason:
// Master_Down_Interval is 3 × interval + (256-priority)/256 × interval, exact
// to the nanosecond and unreadable (3.4140625s reads as 3.41s, 360.9375ms
// as 361ms).
func rounded(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for limit := time.Duration(1000); d >= limit && limit < 1e18; limit *= 10 {
		unit *= 10
	}
	return d.Round(unit)
}
