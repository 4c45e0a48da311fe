package sdk

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hasidecar/hasidecar/sdk/pluginpb"
)

// ProtocolVersion is the plugin protocol this SDK speaks. A future version 2
// is served beside it (go-plugin's VersionedPlugins), so old plugins keep
// working with new hosts.
const ProtocolVersion = 1

// pluginKey names the one plugin kind a plugin binary serves.
const pluginKey = "checker"

// Handshake is the go-plugin handshake of hasidecar plugins. The cookie only
// stops a user from running a plugin binary by hand by mistake; it is not a
// security measure (pin plugins by sha256 for that).
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   "HASIDECAR_PLUGIN",
		MagicCookieValue: "checker-9c3f1e52",
	}
}

// PluginSets returns the plugin sets the host offers when it starts a plugin
// (impl nil) or a plugin serves (impl set), by protocol version.
func PluginSets(impl Checker) map[int]plugin.PluginSet {
	return versionedPlugins(impl, nil)
}

// versionedPlugins is PluginSets with the logger the plugin side hands its
// Probes (nil: Logger()).
func versionedPlugins(impl Checker, log hclog.Logger) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		1: {pluginKey: &grpcPlugin{impl: impl, log: log}},
	}
}

// Dispense returns the Client of a started plugin.
func Dispense(c plugin.ClientProtocol) (*Client, error) {
	raw, err := c.Dispense(pluginKey)
	if err != nil {
		return nil, err
	}
	cl, ok := raw.(*Client)
	if !ok {
		return nil, fmt.Errorf("plugin served %T, not a checker", raw)
	}
	return cl, nil
}

// grpcPlugin adapts a Checker to go-plugin's gRPC transport.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Checker
	log  hclog.Logger
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	log := p.log
	if log == nil {
		log = Logger()
	}
	pluginpb.RegisterCheckerServer(s, &server{impl: p.impl, log: log, probes: map[string]Probe{}})
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return &Client{pb: pluginpb.NewCheckerClient(c)}, nil
}

// server is the plugin side: it keeps one Probe per configured check.
type server struct {
	pluginpb.UnimplementedCheckerServer
	impl Checker
	log  hclog.Logger

	mu     sync.Mutex
	probes map[string]Probe
	// panicked is when each check's panic stack was last logged: a probe
	// that panics on every run logs its stack once a minute, not 10 times a
	// second.
	panicked map[string]time.Time
}

func (s *server) Schema(context.Context, *pluginpb.SchemaRequest) (*pluginpb.SchemaResponse, error) {
	var resp pluginpb.SchemaResponse
	for _, a := range s.impl.Schema().Attributes {
		resp.Attributes = append(resp.Attributes, &pluginpb.Attribute{
			Name: a.Name, Type: string(a.Type), Required: a.Required, Description: a.Description,
		})
	}
	return &resp, nil
}

// build calls the plugin's New, turning a panic into a diagnostic.
func (s *server) build(cfg []byte) (p Probe, diags Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			p, diags = nil, Diagnostics{{Severity: Error, Summary: fmt.Sprintf("plugin panicked validating the configuration: %v", r)}}
		}
	}()
	p, diags = s.impl.New(NewConfig(cfg))
	if p == nil && !diags.HasErrors() {
		diags = append(diags, Diagnostic{Severity: Error, Summary: "plugin returned no probe and no error"})
	}
	return p, diags
}

func (s *server) Validate(_ context.Context, req *pluginpb.ValidateRequest) (*pluginpb.ValidateResponse, error) {
	p, diags := s.build(req.ConfigJson)
	closeProbe(p)
	return &pluginpb.ValidateResponse{Diagnostics: toPB(diags)}, nil
}

func (s *server) Configure(_ context.Context, req *pluginpb.ConfigureRequest) (*pluginpb.ConfigureResponse, error) {
	if req.CheckId == "" {
		return nil, status.Error(codes.InvalidArgument, "empty check id")
	}
	p, diags := s.build(req.ConfigJson)
	if diags.HasErrors() {
		closeProbe(p)
		return &pluginpb.ConfigureResponse{Diagnostics: toPB(diags)}, nil
	}
	s.mu.Lock()
	old := s.probes[req.CheckId]
	s.probes[req.CheckId] = p
	s.mu.Unlock()
	closeProbe(old)
	return &pluginpb.ConfigureResponse{Diagnostics: toPB(diags)}, nil
}

func (s *server) Check(ctx context.Context, req *pluginpb.CheckRequest) (*pluginpb.CheckResponse, error) {
	s.mu.Lock()
	p, ok := s.probes[req.CheckId]
	s.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "check %q is not configured", req.CheckId)
	}
	log := s.log.With("check", req.CheckId)
	ctx, cancel := probeContext(ctx)
	defer cancel()
	start := time.Now()
	res, panicked := runProbe(withLog(ctx, log), p)
	if panicked != nil && s.logPanic(req.CheckId, start) {
		log.Error("probe panicked (its stack is logged at most once a minute)", "panic", fmt.Sprint(panicked.value), "stack", panicked.stack)
	}
	return &pluginpb.CheckResponse{Healthy: res.Healthy, Message: res.Message, LatencyNs: int64(time.Since(start))}, nil
}

// probeContext ends the probe's context a little before the host's
// deadline, so that the probe's own message ("connection timed out after
// 80ms") reaches the host rather than the host's "deadline exceeded".
func probeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline.Add(-probeMargin(time.Until(deadline))))
}

// probeMargin is how much earlier than the host a probe gives up: a tenth
// of the time left, between 1 and 20 ms (the reply's trip back to the host
// takes well under a millisecond).
func probeMargin(left time.Duration) time.Duration {
	return min(max(left/10, time.Millisecond), 20*time.Millisecond)
}

// logPanic reports whether check's panic at now should be logged with its
// stack: the first one, and then once a minute.
func (s *server) logPanic(check string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.panicked[check]; ok && now.Sub(last) < time.Minute {
		return false
	}
	if s.panicked == nil {
		s.panicked = map[string]time.Time{}
	}
	s.panicked[check] = now
	return true
}

// probePanic is a panic recovered from a Probe.
type probePanic struct {
	value any
	stack string
}

// runProbe runs one check, turning a panic into a failing result so that one
// bad check cannot take the plugin, and every other check, down.
func runProbe(ctx context.Context, p Probe) (res Result, panicked *probePanic) {
	defer func() {
		if r := recover(); r != nil {
			res = Result{Healthy: false, Message: fmt.Sprintf("plugin panicked: %v", r)}
			panicked = &probePanic{value: r, stack: string(debug.Stack())}
		}
	}()
	return p.Check(ctx), nil
}

func (s *server) Remove(_ context.Context, req *pluginpb.RemoveRequest) (*pluginpb.RemoveResponse, error) {
	s.mu.Lock()
	p := s.probes[req.CheckId]
	delete(s.probes, req.CheckId)
	s.mu.Unlock()
	closeProbe(p)
	return &pluginpb.RemoveResponse{}, nil
}

func closeProbe(p Probe) {
	if c, ok := p.(Closer); ok {
		_ = c.Close()
	}
}

func toPB(ds Diagnostics) []*pluginpb.Diagnostic {
	out := make([]*pluginpb.Diagnostic, 0, len(ds))
	for _, d := range ds {
		sev := pluginpb.Diagnostic_ERROR
		if d.Severity == Warning {
			sev = pluginpb.Diagnostic_WARNING
		}
		out = append(out, &pluginpb.Diagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail, Attribute: d.Attribute})
	}
	return out
}

// Limits on what the host takes from a plugin's reply. A plugin is someone
// else's code: its text ends up in logs, status and terminals, so it is cut
// to size and stripped of control characters and invalid UTF-8.
const (
	maxMessage     = 512
	maxDiagnostics = 64
	maxDiagText    = 1024
	maxAttributes  = 256
	maxName        = 128
)

func fromPB(ds []*pluginpb.Diagnostic) Diagnostics {
	n := min(len(ds), maxDiagnostics)
	out := make(Diagnostics, 0, n)
	for _, d := range ds[:n] {
		// An unknown severity is an error: the safe reading of a reply
		// from a newer or broken plugin.
		sev := Error
		if d.GetSeverity() == pluginpb.Diagnostic_WARNING {
			sev = Warning
		}
		out = append(out, Diagnostic{Severity: sev, Summary: cleanText(d.GetSummary(), maxDiagText),
			Detail: cleanText(d.GetDetail(), maxDiagText), Attribute: cleanText(d.GetAttribute(), maxName)})
	}
	if len(ds) > n {
		out = append(out, Diagnostic{Severity: Warning, Summary: fmt.Sprintf("%d more diagnostics not shown", len(ds)-n)})
	}
	return out
}

// cleanText makes text from a plugin safe to log and print: invalid UTF-8
// and control characters (newlines included) become U+FFFD or a space, and
// the result is cut to at most max bytes at a character boundary.
func cleanText(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			r = ' '
		case r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' ||
			(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069'):
			// Invalid bytes, C0/C1 controls, line separators and bidi
			// overrides (which can make a log line read as something else).
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Client is the host's side of a running plugin. Plugin authors do not need
// it; the host and tests do. Everything it returns has been checked: a
// malformed reply is an error or is cut down, never passed on as is.
type Client struct {
	pb pluginpb.CheckerClient
}

// NewClient wraps a CheckerClient: a gRPC connection to a plugin, or a fake
// in tests of the host.
func NewClient(pb pluginpb.CheckerClient) *Client { return &Client{pb: pb} }

// Schema asks the plugin for its configuration schema.
func (c *Client) Schema(ctx context.Context) (Schema, error) {
	resp, err := c.pb.Schema(ctx, &pluginpb.SchemaRequest{})
	if err != nil {
		return Schema{}, err
	}
	return schemaFromPB(resp)
}

// schemaFromPB refuses schemas no user could write a config block for; the
// types are checked by the host when it builds its decoder.
func schemaFromPB(resp *pluginpb.SchemaResponse) (Schema, error) {
	if len(resp.GetAttributes()) > maxAttributes {
		return Schema{}, fmt.Errorf("plugin declared %d attributes, more than %d", len(resp.GetAttributes()), maxAttributes)
	}
	var s Schema
	for _, a := range resp.GetAttributes() {
		if a.GetName() == "" || len(a.GetName()) > maxName || cleanText(a.GetName(), maxName) != a.GetName() {
			return Schema{}, fmt.Errorf("plugin declared an attribute with an unusable name %q", cleanText(a.GetName(), maxName))
		}
		s.Attributes = append(s.Attributes, Attribute{Name: a.GetName(), Type: Type(cleanText(a.GetType(), maxName)),
			Required: a.GetRequired(), Description: cleanText(a.GetDescription(), maxDiagText)})
	}
	return s, nil
}

// Validate asks the plugin whether it accepts a configuration.
func (c *Client) Validate(ctx context.Context, cfg []byte) (Diagnostics, error) {
	resp, err := c.pb.Validate(ctx, &pluginpb.ValidateRequest{ConfigJson: cfg})
	if err != nil {
		return nil, err
	}
	return fromPB(resp.Diagnostics), nil
}

// Configure hands the plugin one check's configuration under id.
func (c *Client) Configure(ctx context.Context, id string, cfg []byte) (Diagnostics, error) {
	resp, err := c.pb.Configure(ctx, &pluginpb.ConfigureRequest{CheckId: id, ConfigJson: cfg})
	if err != nil {
		return nil, err
	}
	return fromPB(resp.Diagnostics), nil
}

// Check runs check id once; ctx's deadline is the check's timeout. The
// duration is the probe's own latency as the plugin measured it.
func (c *Client) Check(ctx context.Context, id string) (Result, time.Duration, error) {
	resp, err := c.pb.Check(ctx, &pluginpb.CheckRequest{CheckId: id})
	if err != nil {
		return Result{}, 0, err
	}
	res, latency := resultFromPB(resp)
	return res, latency, nil
}

// resultFromPB keeps the verdict and cleans the rest: the message is cut and
// stripped, a negative latency (a broken plugin clock) is zero.
func resultFromPB(resp *pluginpb.CheckResponse) (Result, time.Duration) {
	latency := max(time.Duration(resp.GetLatencyNs()), 0)
	return Result{Healthy: resp.GetHealthy(), Message: cleanText(resp.GetMessage(), maxMessage)}, latency
}

// Remove tells the plugin to forget check id.
func (c *Client) Remove(ctx context.Context, id string) error {
	_, err := c.pb.Remove(ctx, &pluginpb.RemoveRequest{CheckId: id})
	return err
}
