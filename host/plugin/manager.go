// Package plugin runs hasidecar's health-check plugins: one process per
// plugin (hasidecar-plugin-NAME in plugin_dir) however many checks use it,
// started on first use over go-plugin with gRPC and AutoMTLS, restarted with
// backoff when it exits or stops answering, and killed when the host stops.
// While a plugin is down its checks fail at once, so the caller's fall count
// decides whether a restart is noticed at all. Close stops every process a
// Manager started (it needs no go-plugin CleanupClients), and a plugin dies
// with a host that is SIGKILLed: the parent-death signal set here, and the
// SDK's own watch of its parent, see to that.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hasidecar/hasidecar/sdk"
)

// Options configure a Manager.
type Options struct {
	Dir string // plugin_dir
	Log *zap.Logger
	// Pins maps a plugin name to the sha256 (hex) its binary must have; a
	// binary that does not match is refused.
	Pins map[string]string
	// StartTimeout bounds a plugin's start and handshake (default 5 s;
	// go-plugin's minute is far too long for a sidecar).
	StartTimeout time.Duration
	// Backoff is the wait before restart attempt n (1, 2, …); default 100 ms
	// doubling up to 5 s.
	Backoff func(attempt int) time.Duration
	// HungAfter is how many consecutive check calls may run into their
	// deadline before the plugin is taken for hung and restarted (default 3).
	HungAfter int
}

// Manager runs the plugins.
type Manager struct {
	opts Options

	mu      sync.Mutex
	plugins map[string]*proc
	closed  bool
	done    chan struct{}  // closed by Close: ends the restart loops' waits
	bg      sync.WaitGroup // restart loops and process stops; Close waits for them
}

// exitedError is a check whose plugin went away during the call: gRPC says
// "rpc error: code = Unavailable desc = error reading from server: EOF",
// which tells an operator nothing that "plugin exited" does not.
type exitedError struct {
	plugin string
	err    error
}

func (e *exitedError) Error() string { return fmt.Sprintf("plugin %q exited", e.plugin) }
func (e *exitedError) Unwrap() error { return e.err }

// ErrDown means the plugin is not running right now (exited, restarting).
var ErrDown = errors.New("plugin is down")

// NewManager returns a manager; plugins start on first use.
func NewManager(opts Options) *Manager {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 5 * time.Second
	}
	if opts.Backoff == nil {
		opts.Backoff = func(n int) time.Duration {
			return min(100*time.Millisecond<<min(n-1, 10), 5*time.Second)
		}
	}
	if opts.HungAfter <= 0 {
		opts.HungAfter = 3
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	return &Manager{opts: opts, plugins: map[string]*proc{}, done: make(chan struct{})}
}

// goBackground runs f in a goroutine that Close waits for, unless the
// manager is closed already.
func (m *Manager) goBackground(f func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.bg.Go(f)
	return true
}

// Path is where the binary of plugin name must be: hasidecar-plugin-NAME
// in plugin_dir, an executable file.
func (m *Manager) Path(name string) (string, error) {
	if !validName(name) {
		// The configuration rejects these already; a name must never lead
		// outside plugin_dir whoever calls.
		return "", fmt.Errorf("plugin %q: a plugin name is letters, digits, '-' and '_'", name)
	}
	p := filepath.Join(m.opts.Dir, "hasidecar-plugin-"+name)
	st, err := os.Stat(p)
	switch {
	case err != nil:
		return "", fmt.Errorf("plugin %q: %s not found (plugin_dir = %s)", name, p, m.opts.Dir)
	case st.IsDir() || st.Mode()&0o111 == 0:
		return "", fmt.Errorf("plugin %q: %s is not an executable file", name, p)
	}
	return p, nil
}

func validName(name string) bool {
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return name != ""
}

// get returns the running plugin, starting it if it never ran. A plugin
// that is restarting is reported as ErrDown rather than waited for.
func (m *Manager) get(ctx context.Context, name string) (*proc, *sdk.Client, error) {
	return m.getOrStart(ctx, name, true)
}

// running is get for calls about a check the plugin was given: a plugin that
// is not running (never started, or stopped by a reload that removed its
// last check) is not started for them. A check run that was under way
// while a reload removed its check would otherwise start a process that
// nothing stops.
func (m *Manager) running(ctx context.Context, name string) (*proc, *sdk.Client, error) {
	return m.getOrStart(ctx, name, false)
}

func (m *Manager) getOrStart(ctx context.Context, name string, start bool) (*proc, *sdk.Client, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, nil, errClosed
	}
	p, ok := m.plugins[name]
	if !ok {
		if !start {
			m.mu.Unlock()
			return nil, nil, fmt.Errorf("plugin %q: %w (not started: no check configured)", name, ErrDown)
		}
		p = &proc{name: name, m: m, configs: map[string][]byte{}}
		m.plugins[name] = p
	}
	m.mu.Unlock()

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.checker != nil && !p.client.Exited() {
		return p, p.checker, nil
	}
	if p.restartOn {
		return p, nil, fmt.Errorf("plugin %q: %w (restarting)", name, ErrDown)
	}
	if p.client == nil {
		if err := p.startLocked(ctx); err != nil {
			return p, nil, err
		}
		return p, p.checker, nil
	}
	p.scheduleRestartLocked("exited", false)
	return p, nil, fmt.Errorf("plugin %q: %w (exited; restarting)", name, ErrDown)
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Schema starts the plugin if needed and returns its schema.
func (m *Manager) Schema(ctx context.Context, name string) (sdk.Schema, error) {
	_, c, err := m.get(ctx, name)
	if err != nil {
		return sdk.Schema{}, err
	}
	return c.Schema(ctx)
}

// Validate asks the plugin whether it accepts a check's configuration.
func (m *Manager) Validate(ctx context.Context, name string, cfg []byte) (sdk.Diagnostics, error) {
	_, c, err := m.get(ctx, name)
	if err != nil {
		return nil, err
	}
	return c.Validate(ctx, cfg)
}

// Configure hands the plugin a check; the configuration is remembered and
// re-sent after every restart.
func (m *Manager) Configure(ctx context.Context, name, checkID string, cfg []byte) (sdk.Diagnostics, error) {
	p, c, err := m.get(ctx, name)
	if err != nil {
		return nil, err
	}
	diags, err := c.Configure(ctx, checkID, cfg)
	if err == nil && !diags.HasErrors() {
		p.mu.Lock()
		p.configs[checkID] = cfg
		p.mu.Unlock()
	}
	return diags, err
}

// Remove tells the plugin to forget a check.
func (m *Manager) Remove(ctx context.Context, name, checkID string) error {
	p, c, err := m.running(ctx, name)
	if p != nil {
		p.mu.Lock()
		delete(p.configs, checkID)
		p.mu.Unlock()
	}
	if p == nil && errors.Is(err, ErrDown) {
		return nil // no process: nothing to forget
	}
	if err != nil {
		return err
	}
	return c.Remove(ctx, checkID)
}

// Check runs one check; ctx carries its timeout. While the plugin is down it
// fails at once. A plugin whose calls keep running into their deadline is
// taken for hung and restarted.
func (m *Manager) Check(ctx context.Context, name, checkID string) (sdk.Result, time.Duration, error) {
	p, c, err := m.running(ctx, name)
	if err != nil {
		return sdk.Result{}, 0, err
	}
	p.mu.Lock()
	gen := p.gen
	p.mu.Unlock()
	res, latency, err := c.Check(ctx, checkID)
	if err != nil {
		if status.Code(err) == codes.Unavailable {
			err = &exitedError{plugin: name, err: err}
		} else {
			err = fmt.Errorf("plugin %q: %w", name, err) // still a gRPC status to status.Code
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen != gen {
		return res, latency, err // answered by a process that has since been replaced
	}
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		p.hung++
		if p.hung >= m.opts.HungAfter && !p.probing {
			p.probing = true
			m.goBackground(func() { p.confirmHung(c, gen) })
		}
	} else {
		p.hung = 0
	}
	return res, latency, err
}

// lookup returns plugin name's proc, locked, or nil; the caller unlocks it.
func (m *Manager) lookup(name string) *proc {
	m.mu.Lock()
	p, ok := m.plugins[name]
	m.mu.Unlock()
	if !ok {
		return nil
	}
	p.mu.Lock()
	return p
}

// Restarts counts the restarts of plugin name.
func (m *Manager) Restarts(name string) int {
	p := m.lookup(name)
	if p == nil {
		return 0
	}
	defer p.mu.Unlock()
	return p.restarts
}

// Pid is the process id of plugin name, or 0 when it is not running.
func (m *Manager) Pid(name string) int {
	p := m.lookup(name)
	if p == nil {
		return 0
	}
	defer p.mu.Unlock()
	if p.client == nil || p.client.Exited() || p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Stop stops plugin name, which no check uses any more (after a reload); it
// starts again if a check names it later.
func (m *Manager) Stop(name string) {
	m.mu.Lock()
	p, ok := m.plugins[name]
	delete(m.plugins, name)
	m.mu.Unlock()
	if !ok {
		return
	}
	p.mu.Lock()
	p.retired = true
	c, cmd := p.client, p.cmd
	p.client, p.cmd, p.checker = nil, nil, nil
	p.gen++
	p.mu.Unlock()
	if c != nil {
		stop(c, cmd, false)
	}
}

// Running lists the plugins with a process (or a restart under way).
func (m *Manager) Running() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for name := range m.plugins {
		out = append(out, name)
	}
	return out
}

// Close stops every plugin and waits for them to go: each is asked to exit,
// and SIGKILLed if it has not within a few seconds (a hung one).
func (m *Manager) Close() {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.done)
	}
	procs := make([]*proc, 0, len(m.plugins))
	for _, p := range m.plugins {
		procs = append(procs, p)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		p.mu.Lock()
		c, cmd := p.client, p.cmd
		p.client, p.cmd, p.checker = nil, nil, nil
		p.gen++
		p.mu.Unlock()
		if c != nil {
			wg.Go(func() { stop(c, cmd, false) })
		}
	}
	wg.Wait()
	m.bg.Wait()
}
