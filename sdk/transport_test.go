package sdk

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hasidecar/hasidecar/sdk/pluginpb"
)

// testChecker exercises the transport: "ok" passes, "fail" fails, "panic"
// panics in Check, "slow" ignores its context, "patient" waits for its
// context to end and says so, "log" logs a warning through Log(ctx) and
// passes, a bad "mode" is rejected.
type testChecker struct{}

func (testChecker) Schema() Schema {
	return Schema{Attributes: []Attribute{{Name: "mode", Type: String, Required: true, Description: "what to do"}}}
}

type testProbe struct{ mode string }

func (testChecker) New(c Config) (Probe, Diagnostics) {
	var cfg struct {
		Mode string `json:"mode"`
	}
	if err := c.Decode(&cfg); err != nil {
		return nil, Errorf("", "%v", err)
	}
	switch cfg.Mode {
	case "ok", "fail", "panic", "slow", "log", "patient":
		return testProbe{cfg.Mode}, nil
	case "new-panics":
		panic("boom in New")
	}
	return nil, Errorf("mode", "unknown mode %q", cfg.Mode)
}

func (p testProbe) Check(ctx context.Context) Result {
	switch p.mode {
	case "ok":
		return Healthy("fine")
	case "panic":
		panic("boom")
	case "slow":
		time.Sleep(2 * time.Second)
	case "patient":
		<-ctx.Done()
		return Unhealthy("gave up waiting: %v", ctx.Err())
	case "log":
		Log(ctx).Warn("from the probe", "mode", p.mode)
		return Healthy("logged")
	}
	return Unhealthy("not fine")
}

func client(t *testing.T) *Client {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		pluginKey: &grpcPlugin{impl: testChecker{}, log: hclog.NewNullLogger()},
	})
	t.Cleanup(func() { client.Close() })
	c, err := Dispense(client)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	c := client(t)
	ctx := context.Background()
	s, err := c.Schema(ctx)
	if err != nil || len(s.Attributes) != 1 || s.Attributes[0] != (Attribute{Name: "mode", Type: String, Required: true, Description: "what to do"}) {
		t.Fatalf("schema %+v %v", s, err)
	}
	diags, err := c.Validate(ctx, []byte(`{"mode":"dance"}`))
	if err != nil || len(diags) != 1 || diags[0].Attribute != "mode" || diags[0].Severity != Error || !strings.Contains(diags[0].Summary, "dance") {
		t.Fatalf("validate %+v %v", diags, err)
	}
	for _, tt := range []struct {
		id, mode string
		healthy  bool
		message  string
	}{
		{"a", "ok", true, "fine"},
		{"b", "fail", false, "not fine"},
		{"c", "panic", false, "plugin panicked: boom"},
	} {
		if diags, err := c.Configure(ctx, tt.id, []byte(`{"mode":"`+tt.mode+`"}`)); err != nil || diags.HasErrors() {
			t.Fatalf("configure %s: %v %v", tt.id, diags, err)
		}
		res, latency, err := c.Check(ctx, tt.id)
		if err != nil || res.Healthy != tt.healthy || res.Message != tt.message || latency <= 0 {
			t.Errorf("check %s: %+v %v %v", tt.id, res, latency, err)
		}
	}
	// After a panicking probe the plugin still serves.
	if res, _, err := c.Check(ctx, "a"); err != nil || !res.Healthy {
		t.Fatalf("plugin unusable after a panic: %+v %v", res, err)
	}
	if err := c.Remove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Check(ctx, "a"); status.Code(err) != codes.NotFound {
		t.Fatalf("check of a removed id: %v", err)
	}
}

func TestPanicInNewIsADiagnostic(t *testing.T) {
	diags, err := client(t).Configure(context.Background(), "x", []byte(`{"mode":"new-panics"}`))
	if err != nil || !diags.HasErrors() || !strings.Contains(diags[0].Summary, "boom in New") {
		t.Fatalf("%+v %v", diags, err)
	}
}

func TestDeadlineEndsACall(t *testing.T) {
	c := client(t)
	if _, err := c.Configure(context.Background(), "s", []byte(`{"mode":"slow"}`)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := c.Check(ctx, "s")
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > time.Second {
		t.Fatalf("a probe ignoring its context held the host: %v after %v", err, time.Since(start))
	}
}

func TestBadConfigJSON(t *testing.T) {
	diags, err := client(t).Validate(context.Background(), []byte(`{not json`))
	if err != nil || !diags.HasErrors() {
		t.Fatalf("%+v %v", diags, err)
	}
}

// TestProbeGivesUpBeforeTheHost checks that a probe's context ends before
// the host's deadline, so that the host gets the probe's own message. It
// calls the server in process: over a loaded machine's loopback the reply
// may take longer than the margin, which is not what is tested here.
func TestProbeGivesUpBeforeTheHost(t *testing.T) {
	s := &server{impl: testChecker{}, log: hclog.NewNullLogger(), probes: map[string]Probe{}}
	if _, err := s.Configure(context.Background(), &pluginpb.ConfigureRequest{CheckId: "p", ConfigJson: []byte(`{"mode":"patient"}`)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	resp, err := s.Check(ctx, &pluginpb.CheckRequest{CheckId: "p"})
	if err != nil || resp.Healthy || !strings.Contains(resp.Message, "gave up waiting") {
		t.Fatalf("got %+v, %v; want the probe's own message", resp, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the probe ended with the host's deadline, not before it")
	}
}

func TestProbeMargin(t *testing.T) {
	for _, tt := range []struct{ left, want time.Duration }{
		{time.Second, 20 * time.Millisecond},
		{150 * time.Millisecond, 15 * time.Millisecond},
		{5 * time.Millisecond, time.Millisecond},
		{0, time.Millisecond},
	} {
		if got := probeMargin(tt.left); got != tt.want {
			t.Errorf("probeMargin(%v) = %v, want %v", tt.left, got, tt.want)
		}
	}
}

func TestPanicStackOncePerMinute(t *testing.T) {
	s := &server{}
	now := time.Now()
	for i, tt := range []struct {
		check string
		at    time.Duration
		want  bool
	}{
		{"a", 0, true},
		{"a", time.Second, false},
		{"b", time.Second, true},
		{"a", 59 * time.Second, false},
		{"a", 61 * time.Second, true},
	} {
		if got := s.logPanic(tt.check, now.Add(tt.at)); got != tt.want {
			t.Errorf("step %d: logPanic(%s, +%v) = %v, want %v", i, tt.check, tt.at, got, tt.want)
		}
	}
}

func TestWarnf(t *testing.T) {
	d := Warnf("url", "plain %s", "http")
	if d.HasErrors() || len(d) != 1 || d[0].Severity != Warning || d[0].Attribute != "url" || d[0].Summary != "plain http" {
		t.Fatalf("%+v", d)
	}
}
