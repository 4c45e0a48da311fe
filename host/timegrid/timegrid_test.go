package timegrid

import (
	"testing"
	"time"
)

func TestAlign(t *testing.T) {
	base := time.Unix(1_700_000_000, 0) // on every grid below
	for _, c := range []struct {
		name string
		at   time.Duration // after base
		step time.Duration
		want time.Duration
	}{
		{"on the grid", 4 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond},
		{"just after a point", 4*time.Millisecond + 1, 2 * time.Millisecond, 6 * time.Millisecond},
		{"just before a point", 6*time.Millisecond - 1, 2 * time.Millisecond, 6 * time.Millisecond},
		{"fine grid", 10*time.Millisecond + 50*time.Microsecond, 200 * time.Microsecond, 10*time.Millisecond + 200*time.Microsecond},
		{"no grid", 3 * time.Millisecond, 0, 3 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Align(base.Add(c.at), c.step).Sub(base); got != c.want {
				t.Errorf("Align(base+%v, %v) = base+%v, want base+%v", c.at, c.step, got, c.want)
			}
		})
	}
}

func TestAlignBeforeTheEpoch(t *testing.T) {
	at := time.Unix(-1, 500_000) // 0.9995 s before the epoch
	got := Align(at, 2*time.Millisecond)
	if got.UnixNano()%int64(2*time.Millisecond) != 0 || got.Before(at) || got.Sub(at) >= 2*time.Millisecond {
		t.Errorf("Align(%v) = %v, not the next 2 ms point", at, got)
	}
}

func TestAlignKeepsTheMonotonicReading(t *testing.T) {
	now := time.Now()
	got := Align(now, 2*time.Millisecond)
	// Sub uses monotonic readings when both have one; Round(0) strips it.
	if d := got.Sub(now); d < 0 || d >= 2*time.Millisecond {
		t.Fatalf("aligned %v later, want [0, 2ms)", d)
	}
	if got.Round(0) == got {
		t.Error("the aligned time lost its monotonic reading")
	}
}

func TestStep(t *testing.T) {
	for _, c := range []struct{ interval, want time.Duration }{
		{10 * time.Millisecond, 200 * time.Microsecond},
		{30 * time.Millisecond, 600 * time.Microsecond},
		{100 * time.Millisecond, 2 * time.Millisecond},
		{time.Second, 2 * time.Millisecond},
	} {
		if got := Step(c.interval); got != c.want {
			t.Errorf("Step(%v) = %v, want %v", c.interval, got, c.want)
		}
		if c.interval%Step(c.interval) != 0 {
			t.Errorf("Step(%v) does not divide it", c.interval)
		}
	}
}
