package health

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/sdk"
)

// noLatency answers as the plugin manager does when the call fails: no
// latency, since no plugin answered.
type noLatency struct{}

func (noLatency) Check(ctx context.Context, _, _ string) (sdk.Result, time.Duration, error) {
	<-ctx.Done()
	return sdk.Result{}, 0, ctx.Err()
}

// TestTimedOutCheckReportsTheTimeItTook: status showed "0.0ms" beside
// "timed out after 20ms"; a check that got no answer took its timeout.
func TestTimedOutCheckReportsTheTimeItTook(t *testing.T) {
	s := NewScheduler([]CheckSpec{{Name: "hung", Plugin: "p", Interval: 50 * time.Millisecond, Timeout: 20 * time.Millisecond, Rise: 1, Fall: 1}},
		noLatency{}, zap.NewNop())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go s.Run(ctx)
	select {
	case <-s.FirstResults():
	case <-ctx.Done():
		t.Fatal("no first result")
	}
	st := s.Status()[0]
	if st.LastMessage != "timed out after 20ms" || st.LastLatencyMS < 19 {
		t.Errorf("timed-out check: %q with latency %.1fms, want at least its 20ms timeout", st.LastMessage, st.LastLatencyMS)
	}
}
