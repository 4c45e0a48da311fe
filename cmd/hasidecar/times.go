package main

import (
	"fmt"
	"time"
)

// clock prints a time of the status table in the reader's local zone with
// its UTC offset, so that it lines up with logs kept in UTC or another
// zone; with the date when it is not today's.
func clock(t, now time.Time) string {
	t = t.In(now.Location())
	ty, tm, td := t.Date()
	ny, nm, nd := now.Date()
	if ty == ny && tm == nm && td == nd {
		return t.Format("15:04:05 -07:00")
	}
	return t.Format("2006-01-02 15:04:05 -07:00")
}

// since is the SINCE column: when the last transition happened and how
// long ago, to the second; "-" before the first.
func since(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	ago := max(now.Sub(t), 0).Truncate(time.Second)
	return fmt.Sprintf("%s (%v ago)", clock(t, now), ago)
}

// latency prints a check's last latency; "-" when there is none (a daemon
// from before timed-out checks had one reported 0).
func latency(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", ms)
}

// rfc3339Since is since for a time the daemon sent as RFC 3339 text; text
// it cannot read is printed as it came.
func rfc3339Since(s string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return dash(s)
	}
	return since(t, now)
}
