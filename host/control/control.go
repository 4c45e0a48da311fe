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
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/status"
)

// Request is one command sent to the daemon. A reload always reads the file
// the daemon was started with: a client cannot name another one.
type Request struct {
	Command string `json:"command"` // "status", "reload" or "maintenance"
	// Maintenance: on or off, for one instance (empty: all), and why.
	On       bool   `json:"on,omitempty"`
	Instance string `json:"instance,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Response is the daemon's answer.
type Response struct {
	OK      bool           `json:"ok"`
	Error   string         `json:"error,omitempty"`
	Message string         `json:"message,omitempty"` // what was done, for the operator
	Status  *status.Status `json:"status,omitempty"`
	// Warnings are what the operator must act on after a reload that went
	// through (another node to reload, a setting that waits for a
	// restart). Added in the second round: older clients ignore it.
	Warnings []string `json:"warnings,omitempty"`
}

// Handler answers requests; the daemon implements it.
type Handler interface {
	Status() status.Status
	// Reload re-reads path; the control socket always passes "", meaning
	// the file the daemon was started with.
	Reload(ctx context.Context, path string) error
}

// WarningReloader is a Handler whose reload also returns warnings; the
// control socket passes them to the client.
type WarningReloader interface {
	ReloadWithWarnings(ctx context.Context, path string) ([]string, error)
}

// MaintenanceHandler is a Handler that can hand its VIPs over on purpose.
type MaintenanceHandler interface {
	Maintenance(ctx context.Context, instance string, on bool, reason string) (string, error)
}

// Listen opens the socket at path readable by root only; see ListenGroup.
func Listen(path string) (net.Listener, error) {
	return ListenGroup(path, "")
}

// Serve answers requests on l until ctx ends, then closes l and removes the
// socket file.
func Serve(ctx context.Context, l net.Listener, h Handler, log *zap.Logger) error {
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	defer os.Remove(l.Addr().String())
	acc := accessOf(l)
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accepting on control socket: %w", err)
		}
		go serveConn(ctx, c, h, acc, log)
	}
}

func serveConn(ctx context.Context, c net.Conn, h Handler, acc access, log *zap.Logger) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var req Request
	dec := json.NewDecoder(io.LimitReader(c, 64<<10))
	resp := Response{OK: true}
	if err := dec.Decode(&req); err != nil {
		resp = Response{Error: "malformed request: " + err.Error()}
	} else if why := acc.refuse(c, req.Command); why != "" {
		log.Warn("control request refused", zap.String("command", req.Command), zap.String("why", why))
		resp = Response{Error: why}
	} else {
		switch req.Command {
		case "status":
			st := h.Status()
			resp.Status = &st
		case "reload":
			var warnings []string
			var err error
			if wr, ok := h.(WarningReloader); ok {
				warnings, err = wr.ReloadWithWarnings(ctx, "")
			} else {
				err = h.Reload(ctx, "")
			}
			if err != nil {
				// In the daemon's log too, as for SIGHUP: the journal is
				// where the next person looks.
				log.Error("reload rejected; still running on the previous configuration", zap.String("by", "hasidecar reload"), zap.Error(err))
				resp = Response{Error: err.Error(), Warnings: warnings}
			} else {
				resp.Message = "reloaded"
				if p := h.Status().ConfigPath; p != "" {
					resp.Message = "reloaded " + p
				}
				resp.Warnings = warnings
			}
		case "maintenance":
			mh, ok := h.(MaintenanceHandler)
			if !ok {
				resp = Response{Error: "this daemon has no maintenance mode"}
				break
			}
			msg, err := mh.Maintenance(ctx, req.Instance, req.On, req.Reason)
			if err != nil {
				resp = Response{Error: err.Error()}
			} else {
				resp.Message = msg
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
	if errors.Is(err, syscall.EACCES) {
		return nil, fmt.Errorf("permission denied on control socket %s: status is for root and members of the control group (control { group = ... }); reload and maintenance are for root only", path)
	}
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
