package health

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/status"
	"github.com/hasidecar/hasidecar/host/timegrid"
	"github.com/hasidecar/hasidecar/sdk"
)

// Runner runs one check through its plugin. ctx carries the check's timeout.
type Runner interface {
	Check(ctx context.Context, plugin, checkID string) (sdk.Result, time.Duration, error)
}

// CheckSpec is one check's schedule.
type CheckSpec struct {
	Name     string
	Plugin   string
	Interval time.Duration
	Timeout  time.Duration
	Rise     int
	Fall     int
	// Config is the check's plugin configuration, compared by Update to
	// tell a changed check from an unchanged one.
	Config string
}

// Change reports that a check's health changed.
type Change struct {
	Check   string
	Healthy bool
	Message string
}

// Scheduler runs every check on its interval and keeps its health.
type Scheduler struct {
	runner  Runner
	log     *zap.Logger
	specs   []CheckSpec
	changes chan Change

	// Observe, when set before Run, is told every run's latency.
	Observe func(check string, latency time.Duration)

	mu        sync.Mutex
	checks    map[string]*checkState
	first     chan struct{} // closed once every check has a first result
	firstDone bool
	runCtx    context.Context // set by Run; nil before
	wg        sync.WaitGroup
}

type checkState struct {
	spec     CheckSpec
	h        *Hysteresis
	message  string
	latency  time.Duration
	failures uint64 // failed runs since start
	cancel   context.CancelFunc
}

// NewScheduler prepares the checks; nothing runs until Run.
func NewScheduler(specs []CheckSpec, runner Runner, log *zap.Logger) *Scheduler {
	s := &Scheduler{
		runner:  runner,
		log:     log,
		specs:   specs,
		changes: make(chan Change, 64),
		checks:  map[string]*checkState{},
		first:   make(chan struct{}),
	}
	for _, c := range specs {
		s.checks[c.Name] = &checkState{spec: c, h: NewHysteresis(c.Rise, c.Fall), message: "not run yet"}
	}
	s.closeFirstIfAllKnownLocked()
	return s
}

func (s *Scheduler) closeFirstIfAllKnownLocked() {
	if s.firstDone {
		return
	}
	for _, c := range s.checks {
		if _, known := c.h.Healthy(); !known {
			return
		}
	}
	s.firstDone = true
	close(s.first)
}

// Changes delivers every change of health, in order per check.
func (s *Scheduler) Changes() <-chan Change { return s.changes }

// FirstResults is closed once every check has reported at least once.
func (s *Scheduler) FirstResults() <-chan struct{} { return s.first }

// Healthy reports a check's health; known is false before its first result.
func (s *Scheduler) Healthy(name string) (healthy, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.checks[name]
	if !ok {
		return false, false
	}
	return c.h.Healthy()
}

// Status is a snapshot for `hasidecar status`, in configuration order.
func (s *Scheduler) Status() []status.CheckStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]status.CheckStatus, 0, len(s.specs))
	for _, spec := range s.specs {
		c := s.checks[spec.Name]
		healthy, _ := c.h.Healthy()
		out = append(out, status.CheckStatus{
			Name:                spec.Name,
			Plugin:              spec.Plugin,
			Healthy:             healthy,
			LastMessage:         c.message,
			LastLatencyMS:       float64(c.latency.Microseconds()) / 1000,
			ConsecutiveFailures: c.h.ConsecutiveFailures(),
		})
	}
	return out
}

// Specs returns the checks as last set by NewScheduler or Update.
func (s *Scheduler) Specs() []CheckSpec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CheckSpec(nil), s.specs...)
}

// Failures counts each check's failed runs since start.
func (s *Scheduler) Failures() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(s.checks))
	for name, c := range s.checks {
		out[name] = c.failures
	}
	return out
}

// Run runs every check until ctx ends, then closes Changes.
func (s *Scheduler) Run(ctx context.Context) {
	s.mu.Lock()
	s.runCtx = ctx
	for _, spec := range s.specs {
		s.startLocked(s.checks[spec.Name])
	}
	s.mu.Unlock()
	<-ctx.Done()
	s.wg.Wait()
	close(s.changes)
}

func (s *Scheduler) startLocked(c *checkState) {
	ctx, cancel := context.WithCancel(s.runCtx)
	c.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.loop(ctx, c)
	}()
}

// Update replaces the set of checks: unchanged checks keep running with their
// health; changed ones restart with the health they had until their first
// new result; added ones start unknown; removed ones stop. It returns the
// names whose health was reset or removed, so the caller can recompute what
// tracks them.
func (s *Scheduler) Update(specs []CheckSpec) (reset []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := map[string]bool{}
	for _, spec := range specs {
		if c, ok := s.checks[spec.Name]; ok && c.spec == spec {
			keep[spec.Name] = true
		}
	}
	next := map[string]bool{}
	for _, spec := range specs {
		next[spec.Name] = true
	}
	carried := map[string]bool{} // changed checks' health, while known
	for name, c := range s.checks {
		if !keep[name] {
			if c.cancel != nil {
				c.cancel()
			}
			healthy, known := c.h.Healthy()
			if known && next[name] {
				carried[name] = healthy
			} else {
				reset = append(reset, name)
			}
			delete(s.checks, name)
		}
	}
	for _, spec := range specs {
		if keep[spec.Name] {
			continue
		}
		c := &checkState{spec: spec, h: NewHysteresis(spec.Rise, spec.Fall), message: "not run yet"}
		if healthy, ok := carried[spec.Name]; ok {
			c.h.Carry(healthy)
			c.message = "settings changed; health kept until the next result"
		}
		s.checks[spec.Name] = c
		if s.runCtx != nil {
			s.startLocked(c)
		}
	}
	s.specs = specs
	return reset
}

// loop runs one check. The first run comes at once; later runs keep the
// interval from one start to the next, shifted by up to ±5 % so that checks
// sharing an interval spread over it rather than fire all at once, and
// rounded up to the check grid (see nextRun), so that those close together
// share wake-ups. A run that overruns its interval is followed at once by
// the next.
func (s *Scheduler) loop(ctx context.Context, c *checkState) {
	spec := c.spec
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		s.runOnce(ctx, c)
		if ctx.Err() != nil {
			return
		}
		timer.Reset(max(time.Until(nextRun(start, spec.Interval, jitter(spec.Interval))), 0))
	}
}

// checkStep is the grid check runs start on: a fiftieth of the interval
// (20 ms at 1 s). Runs due in the same slot start together, so their RPCs
// share the host's and the plugin's wake-ups: at 500 checks a second the
// plugin is woken about 50 times a second instead of 500.
func checkStep(interval time.Duration) time.Duration { return interval / 50 }

// checkOffset sets the check grid half a step of the VRRP timers' grid
// (timegrid.Step, 2 ms) away from it, so that a burst of checks does not
// start in the instant a master's adverts are due.
const checkOffset = time.Millisecond

// nextRun is when a run that started at start is followed: an interval
// later, shifted by jitter, then moved to the next instant of the check
// grid.
func nextRun(start time.Time, interval, jitter time.Duration) time.Time {
	next := start.Add(interval + jitter)
	return timegrid.Align(next.Add(-checkOffset), checkStep(interval)).Add(checkOffset)
}

func jitter(interval time.Duration) time.Duration {
	span := int64(interval / 10)
	if span <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(span) - span/2)
}

func (s *Scheduler) runOnce(ctx context.Context, c *checkState) {
	spec := c.spec
	cctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	began := time.Now()
	res, latency, err := s.runner.Check(cctx, spec.Plugin, spec.Name)
	cancel()
	if err != nil && latency == 0 {
		// No answer to time: what the check cost is how long we waited
		// (a timeout's latency is its timeout, not 0).
		latency = time.Since(began)
	}
	if ctx.Err() != nil {
		return // shutting down: not the check's fault
	}
	pass, msg := res.Healthy, res.Message
	if err != nil {
		// A plugin that is down, restarting or too slow counts as a failure.
		pass, msg = false, err.Error()
		if cctx.Err() == context.DeadlineExceeded {
			msg = "timed out after " + spec.Timeout.String()
		}
	}

	if s.Observe != nil && err == nil {
		s.Observe(spec.Name, latency)
	}
	s.mu.Lock()
	if !pass {
		c.failures++
	}
	_, wasKnown := c.h.Healthy()
	changed := c.h.Observe(pass)
	healthy, _ := c.h.Healthy()
	c.message, c.latency = msg, latency
	if !wasKnown && !s.firstDone {
		s.closeFirstIfAllKnownLocked()
	}
	failures := c.h.ConsecutiveFailures()
	s.mu.Unlock()

	if !changed {
		if !pass {
			s.log.Debug("check failed", zap.String("check", spec.Name), zap.String("message", msg),
				zap.Int("consecutive_failures", failures), zap.Int("fall", spec.Fall))
		}
		return
	}
	level := s.log.Info
	if !healthy {
		level = s.log.Warn
	}
	level("check health changed", zap.String("check", spec.Name), zap.String("plugin", spec.Plugin),
		zap.Bool("healthy", healthy), zap.String("message", msg), zap.Duration("latency", latency))
	select {
	case s.changes <- Change{Check: spec.Name, Healthy: healthy, Message: msg}:
	case <-ctx.Done():
	}
}
