package sdk

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

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
	start := time.Now()
	res := runProbe(withLog(ctx, log), p, log)
	return &pluginpb.CheckResponse{Healthy: res.Healthy, Message: res.Message, LatencyNs: int64(time.Since(start))}, nil
}

// runProbe runs one check, turning a panic into a failing result so that one
// bad check cannot take the plugin, and every other check, down.
func runProbe(ctx context.Context, p Probe, log hclog.Logger) (res Result) {
	defer func() {
		if r := recover(); r != nil {
			res = Result{Healthy: false, Message: fmt.Sprintf("plugin panicked: %v", r)}
			log.Error("probe panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	return p.Check(ctx)
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

func fromPB(ds []*pluginpb.Diagnostic) Diagnostics {
	out := make(Diagnostics, 0, len(ds))
	for _, d := range ds {
		sev := Error
		if d.GetSeverity() == pluginpb.Diagnostic_WARNING {
			sev = Warning
		}
		out = append(out, Diagnostic{Severity: sev, Summary: d.GetSummary(), Detail: d.GetDetail(), Attribute: d.GetAttribute()})
	}
	return out
}

// Client is the host's side of a running plugin. Plugin authors do not need
// it; the host and tests do.
type Client struct {
	pb pluginpb.CheckerClient
}

// Schema asks the plugin for its configuration schema.
func (c *Client) Schema(ctx context.Context) (Schema, error) {
	resp, err := c.pb.Schema(ctx, &pluginpb.SchemaRequest{})
	if err != nil {
		return Schema{}, err
	}
	var s Schema
	for _, a := range resp.Attributes {
		s.Attributes = append(s.Attributes, Attribute{Name: a.Name, Type: Type(a.Type), Required: a.Required, Description: a.Description})
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
	return Result{Healthy: resp.Healthy, Message: resp.Message}, time.Duration(resp.LatencyNs), nil
}

// Remove tells the plugin to forget check id.
func (c *Client) Remove(ctx context.Context, id string) error {
	_, err := c.pb.Remove(ctx, &pluginpb.RemoveRequest{CheckId: id})
	return err
}
