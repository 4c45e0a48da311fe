package bgp

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/osrg/gobgp/v3/pkg/server"
	"go.uber.org/zap"
)

// Engine is the GoBGP server a daemon keeps for its whole life. GoBGP's
// Serve loop never returns, so a speaker stopped by a reload gives the
// server back and the next one starts BGP on it again, rather than each
// leaving a goroutine and its channels behind.
type Engine struct {
	log *zap.Logger

	mu   sync.Mutex
	srv  *server.BgpServer // made, and served, on first use
	busy bool              // a speaker runs on srv
}

// NewEngine returns an engine whose server starts with the first speaker.
func NewEngine(log *zap.Logger) *Engine { return &Engine{log: log} }

// ErrBusy is Start's error while the engine's previous speaker has not
// stopped: GoBGP's stop waits for its routers, and one that does not answer
// holds it up beyond the daemon's patience.
var ErrBusy = errors.New("bgp: the previous speaker is still closing its sessions (a router has not answered); reload again in a few seconds")

// busyWait is how long Start waits for the previous speaker to finish
// stopping: a reload that removes and re-adds the bgp block in quick
// succession, while a router is slow to answer, need not fail.
const busyWait = 3 * time.Second

// Start starts a speaker on the engine's server; one at a time. While the
// previous speaker is still stopping, it waits up to busyWait (or until ctx
// ends) before it gives up with ErrBusy.
func (e *Engine) Start(ctx context.Context, cfg Config) (*Speaker, error) {
	deadline := time.Now().Add(busyWait)
	e.mu.Lock()
	for e.busy {
		e.mu.Unlock()
		if time.Now().After(deadline) {
			return nil, ErrBusy
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		e.mu.Lock()
	}
	if e.srv == nil {
		e.srv = server.NewBgpServer(server.LoggerOption(zapLogger{e.log.With(zap.String("component", "gobgp"))}))
		go e.srv.Serve()
	}
	e.busy = true
	srv := e.srv
	e.mu.Unlock()
	release := func() {
		e.mu.Lock()
		e.busy = false
		e.mu.Unlock()
	}
	s, err := start(ctx, srv, cfg, e.log, release)
	if err != nil {
		release()
		return nil, err
	}
	return s, nil
}
