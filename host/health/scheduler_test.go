package health

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/sdk"
)

// scripted answers each check from a function of its call number.
type scripted struct {
	mu    sync.Mutex
	calls map[string]int
	fn    func(ctx context.Context, check string, n int) (sdk.Result, error)
}

func (s *scripted) Check(ctx context.Context, _, check string) (sdk.Result, time.Duration, error) {
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	n := s.calls[check]
	s.calls[check]++
	s.mu.Unlock()
	start := time.Now()
	r, err := s.fn(ctx, check, n)
	return r, time.Since(start), err
}

func (s *scripted) count(check string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[check]
}

func TestSchedulerHysteresisAndOrder(t *testing.T) {
	// pass, pass, fail, fail, fail, pass, pass, then passes forever
	pattern := []bool{true, true, false, false, false, true, true}
	r := &scripted{fn: func(_ context.Context, _ string, n int) (sdk.Result, error) {
		if n < len(pattern) && !pattern[n] {
			return sdk.Unhealthy("503"), nil
		}
		return sdk.Healthy("200 OK"), nil
	}}
	s := NewScheduler([]CheckSpec{{Name: "nginx", Plugin: "httpget", Interval: 20 * time.Millisecond, Timeout: 10 * time.Millisecond, Rise: 2, Fall: 2}}, r, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()

	var got []bool
	for c := range s.Changes() {
		got = append(got, c.Healthy)
		if len(got) == 3 {
			cancel()
		}
	}
	<-done
	// unknown->healthy at the first pass, unhealthy at the 2nd failure, healthy at the 2nd pass
	if len(got) != 3 || !got[0] || got[1] || !got[2] {
		t.Fatalf("changes %v, want [true false true]", got)
	}
	select {
	case <-s.FirstResults():
	default:
		t.Fatal("FirstResults not closed")
	}
}

func TestSchedulerCountsErrorsAndTimeoutsAsFailures(t *testing.T) {
	r := &scripted{fn: func(ctx context.Context, check string, _ int) (sdk.Result, error) {
		if check == "down" {
			return sdk.Result{}, errors.New("plugin httpget is restarting")
		}
		<-ctx.Done() // a hung plugin: only the deadline ends it
		return sdk.Result{}, ctx.Err()
	}}
	s := NewScheduler([]CheckSpec{
		{Name: "down", Plugin: "p", Interval: 50 * time.Millisecond, Timeout: 20 * time.Millisecond, Rise: 1, Fall: 1},
		{Name: "hung", Plugin: "p", Interval: 50 * time.Millisecond, Timeout: 20 * time.Millisecond, Rise: 1, Fall: 1},
	}, r, zap.NewNop())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go s.Run(ctx)
	select {
	case <-s.FirstResults():
	case <-ctx.Done():
		t.Fatal("no first results: a hung check blocked the scheduler")
	}
	for _, name := range []string{"down", "hung"} {
		if healthy, known := s.Healthy(name); healthy || !known {
			t.Errorf("%s: healthy=%v known=%v, want a known failure", name, healthy, known)
		}
	}
	for _, st := range s.Status() {
		if st.Name == "hung" && st.LastMessage != "timed out after 20ms" {
			t.Errorf("hung check's message %q", st.LastMessage)
		}
		if st.Name == "down" && st.LastMessage != "plugin httpget is restarting" {
			t.Errorf("down check's message %q", st.LastMessage)
		}
	}
}

func TestSchedulerHolds50msIntervals(t *testing.T) {
	var running, overlap atomic.Int32
	r := &scripted{fn: func(context.Context, string, int) (sdk.Result, error) {
		if running.Add(1) > 1 {
			overlap.Add(1)
		}
		time.Sleep(2 * time.Millisecond)
		running.Add(-1)
		return sdk.Healthy("ok"), nil
	}}
	s := NewScheduler([]CheckSpec{{Name: "fast", Plugin: "p", Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond, Rise: 1, Fall: 1}}, r, zap.NewNop())
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.Run(ctx)
	// About 20 runs in a second; wide margins for a loaded machine.
	if n := r.count("fast"); n < 12 || n > 24 {
		t.Errorf("%d runs in 1s at a 50ms interval", n)
	}
	if overlap.Load() > 0 {
		t.Error("runs of one check overlapped")
	}
}

func TestUpdateKeepsUnchangedChecks(t *testing.T) {
	r := &scripted{fn: func(_ context.Context, check string, _ int) (sdk.Result, error) {
		if check == "bad" {
			return sdk.Unhealthy("down"), nil
		}
		return sdk.Healthy("ok"), nil
	}}
	keep := CheckSpec{Name: "keep", Plugin: "p", Interval: 20 * time.Millisecond, Timeout: 10 * time.Millisecond, Rise: 1, Fall: 1, Config: "a"}
	s := NewScheduler([]CheckSpec{keep, {Name: "gone", Plugin: "p", Interval: 20 * time.Millisecond, Timeout: 10 * time.Millisecond, Rise: 1, Fall: 1}}, r, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	go func() {
		for range s.Changes() {
		}
	}()
	<-s.FirstResults()
	before := r.count("keep")

	changed := keep
	changed.Name = "changed"
	reset := s.Update([]CheckSpec{keep, changed, {Name: "bad", Plugin: "p", Interval: 20 * time.Millisecond, Timeout: 10 * time.Millisecond, Rise: 1, Fall: 1}})
	if len(reset) != 1 || reset[0] != "gone" {
		t.Fatalf("reset %v, want [gone]", reset)
	}
	if h, known := s.Healthy("keep"); !h || !known {
		t.Fatal("an unchanged check lost its health")
	}
	time.Sleep(200 * time.Millisecond)
	if _, known := s.Healthy("gone"); known {
		t.Fatal("a removed check is still known")
	}
	if h, known := s.Healthy("bad"); h || !known {
		t.Fatalf("an added check did not run: %v %v", h, known)
	}
	if r.count("keep") <= before {
		t.Fatal("the unchanged check stopped")
	}
	n := r.count("gone")
	time.Sleep(100 * time.Millisecond)
	if r.count("gone") != n {
		t.Fatal("a removed check still runs")
	}
	// A changed configuration restarts the check, with the health it had
	// until its first new result.
	keep2 := keep
	keep2.Config = "b"
	keep2.Interval = time.Hour // the first run comes at once, the next never
	if reset := s.Update([]CheckSpec{keep2}); len(reset) != 2 {
		t.Fatalf("reset %v, want changed and bad", reset)
	}
	if h, known := s.Healthy("keep"); !h || !known {
		t.Fatal("a changed check lost its health before its first new result")
	}
	cancel()
	<-done
}

func TestNextRunIsOnTheCheckGrid(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		name     string
		start    time.Time
		interval time.Duration
		jitter   time.Duration
		want     time.Time
	}{
		// 1 s checks run on a 20 ms grid shifted 1 ms from the VRRP grid.
		{"already on the grid", base.Add(time.Millisecond), time.Second, 0, base.Add(1001 * time.Millisecond)},
		{"rounded up to the grid", base.Add(5 * time.Millisecond), time.Second, 0, base.Add(1021 * time.Millisecond)},
		{"jitter back", base.Add(time.Millisecond), time.Second, -30 * time.Millisecond, base.Add(981 * time.Millisecond)},
		{"jitter forward", base, time.Second, 45 * time.Millisecond, base.Add(1061 * time.Millisecond)},
		// 100 ms checks: a 2 ms grid.
		{"short interval", base.Add(500 * time.Microsecond), 100 * time.Millisecond, 0, base.Add(101 * time.Millisecond)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := nextRun(c.start, c.interval, c.jitter)
			if !got.Equal(c.want) {
				t.Fatalf("nextRun = %v after base, want %v", got.Sub(base), c.want.Sub(base))
			}
			if got.Before(c.start.Add(c.interval + c.jitter)) {
				t.Fatalf("the run moved earlier than interval + jitter")
			}
		})
	}
}

// TestChangedCheckKeepsHealthUntilItsFirstResult: a reload that changes a
// check's interval must not make it unknown (counted as failing) in between;
// its first new result then decides at once.
func TestChangedCheckKeepsHealthThroughFall(t *testing.T) {
	release := make(chan struct{})
	var fail atomic.Bool
	r := &scripted{fn: func(ctx context.Context, check string, n int) (sdk.Result, error) {
		if fail.Load() {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return sdk.Unhealthy("down"), nil
		}
		return sdk.Healthy("ok"), nil
	}}
	spec := CheckSpec{Name: "nginx", Plugin: "p", Interval: time.Hour, Timeout: 5 * time.Second, Rise: 3, Fall: 3}
	s := NewScheduler([]CheckSpec{spec}, r, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	<-s.FirstResults()
	if h, _ := s.Healthy("nginx"); !h {
		t.Fatal("not healthy at start")
	}
	<-s.Changes() // unknown to healthy, at start
	fail.Store(true)
	spec.Interval = 30 * time.Minute
	s.Update([]CheckSpec{spec})
	time.Sleep(100 * time.Millisecond) // the new first run is in flight, held
	if h, known := s.Healthy("nginx"); !h || !known {
		t.Fatalf("health while the changed check's first run is pending: %v %v", h, known)
	}
	close(release)
	// One failure is not fall = 3 failures: the carried health stands, as
	// for a check that never stopped.
	select {
	case ch := <-s.Changes():
		t.Fatalf("one failure after a reload changed the health: %+v", ch)
	case <-time.After(time.Second):
	}
	if h, known := s.Healthy("nginx"); !h || !known {
		t.Fatalf("health after one failure with fall = 3: %v %v", h, known)
	}
	cancel()
	<-done
}
