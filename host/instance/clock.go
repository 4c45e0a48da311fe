package instance

import "time"

// clock is where the runner's loop reads the time and gets its timer: the
// real one in production, one a test moves by hand in unit tests, so that
// the timing of the election is tested without waiting for it.
type clock interface {
	Now() time.Time
	NewTimer(d time.Duration) timer
}

// timer is the part of time.Timer the loop uses. Reset follows Go 1.23's
// time.Timer: no value from before it is received after it.
type timer interface {
	C() <-chan time.Time
	Reset(d time.Duration) bool
	Stop() bool
}

// realClock is the system's clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.Timer.C }
