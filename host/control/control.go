// Package control is the daemon's local control socket: a Unix socket that
// answers one JSON request per connection. `hasidecar status` and
// `hasidecar reload` are its clients.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// Status is what `hasidecar status --json` prints. Field names are part of
// the product contract (DESIGN.md).
type Status struct {
	NodeName  string           `json:"node_name"`
	Instances []InstanceStatus `json:"instances"`
	Checks    []CheckStatus    `json:"checks"`
	BGP       *BGPStatus       `json:"bgp,omitempty"` // nil without a bgp block
}

// InstanceStatus describes one VRRP instance.
type InstanceStatus struct {
	Name              string   `json:"name"`
	State             string   `json:"state"`
	Priority          int      `json:"priority"`
	EffectivePriority int      `json:"effective_priority"`
	VirtualRouterID   int      `json:"virtual_router_id"`
	Interface         string   `json:"interface"`
	VirtualIPs        []string `json:"virtual_ips"`
	MasterAddress     string   `json:"master_address"`
	Transitions       int      `json:"transitions"`

	// Beyond the contract: why the instance is where it is.
	Version        int               `json:"version"`
	AdvertInterval string            `json:"advert_interval"`
	LastReason     string            `json:"last_transition_reason,omitempty"`
	Faults         []string          `json:"faults,omitempty"`
	AdvertsSent    uint64            `json:"adverts_sent"`
	AdvertsRecv    uint64            `json:"adverts_received"`
	Dropped        map[string]uint64 `json:"dropped,omitempty"`
	// Tracks says how each tracked check moves the priority now.
	Tracks []TrackStatus `json:"track_checks,omitempty"`
}

// TrackStatus is one track_check of an instance.
type TrackStatus struct {
	Check   string `json:"check"`
	Weight  int    `json:"weight"`
	Healthy bool   `json:"healthy"`
	Applied int    `json:"applied"` // added to the base priority now
	Fault   bool   `json:"fault"`   // holds the instance in FAULT
}

// CheckStatus describes one health check.
type CheckStatus struct {
	Name                string  `json:"name"`
	Plugin              string  `json:"plugin"`
	Healthy             bool    `json:"healthy"`
	LastMessage         string  `json:"last_message"`
	LastLatencyMS       float64 `json:"last_latency_ms"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
}

// Request is one command sent to the daemon.
type Request struct {
	Command string `json:"command"`          // "status" or "reload"
	Config  string `json:"config,omitempty"` // reload: the file to load
}

// Response is the daemon's answer.
type Response struct {
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
	Status *Status `json:"status,omitempty"`
}

// Handler answers requests; the daemon implements it.
type Handler interface {
	Status() Status
	Reload(ctx context.Context, path string) error
}

// Listen opens the socket at path, replacing a stale one left by a crash but
// refusing to take over a socket a live daemon still answers on.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating control socket directory: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s is in use: is another hasidecar running with this configuration?", path)
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("restricting control socket %s: %w", path, err)
	}
	return l, nil
}

// Serve answers requests on l until ctx ends, then closes l and removes the
// socket file.
func Serve(ctx context.Context, l net.Listener, h Handler, log *zap.Logger) error {
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	defer os.Remove(l.Addr().String())
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accepting on control socket: %w", err)
		}
		go serveConn(ctx, c, h, log)
	}
}

func serveConn(ctx context.Context, c net.Conn, h Handler, log *zap.Logger) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var req Request
	dec := json.NewDecoder(io.LimitReader(c, 64<<10))
	resp := Response{OK: true}
	if err := dec.Decode(&req); err != nil {
		resp = Response{Error: "malformed request: " + err.Error()}
	} else {
		switch req.Command {
		case "status":
			st := h.Status()
			resp.Status = &st
		case "reload":
			if err := h.Reload(ctx, req.Config); err != nil {
				resp = Response{Error: err.Error()}
			}
		default:
			resp = Response{Error: fmt.Sprintf("unknown command %q", req.Command)}
		}
	}
	if err := json.NewEncoder(c).Encode(resp); err != nil {
		log.Debug("answering control request", zap.Error(err))
	}
}

// ErrNotRunning means nothing answers on the socket.
var ErrNotRunning = errors.New("no hasidecar answers on the control socket")

// Call sends one request to the daemon listening at path.
func Call(ctx context.Context, path string, req Request) (*Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("%w %s (is the daemon running? %v)", ErrNotRunning, path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, fmt.Errorf("sending %s request to %s: %w", req.Command, path, err)
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, fmt.Errorf("reading %s answer from %s: %w", req.Command, path, err)
	}
	return &resp, nil
}
