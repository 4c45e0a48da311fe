// Package plugin runs hasidecar's health-check plugins: one process per
// plugin (hasidecar-plugin-NAME in plugin_dir) however many checks use it,
// started on first use over go-plugin with gRPC and AutoMTLS, restarted with
// backoff when it exits or stops answering, and killed when the host stops.
// While a plugin is down its checks fail at once, so the caller's fall count
// decides whether a restart is noticed at all.
package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"go.uber.org/zap"

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
}

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
	return &Manager{opts: opts, plugins: map[string]*proc{}}
}

// Path is where the binary of plugin name must be.
func (m *Manager) Path(name string) (string, error) {
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

// proc is one plugin and its process (or the lack of one).
type proc struct {
	name string
	m    *Manager

	mu        sync.Mutex
	client    *goplugin.Client
	checker   *sdk.Client
	gen       int               // bumped at every start, so stale failures are ignored
	configs   map[string][]byte // check id -> config, re-sent after a restart
	restarts  int
	attempt   int // consecutive failed starts, for the backoff
	hung      int // consecutive deadline errors
	restartOn bool
	upSince   time.Time
}

// get returns the running plugin, starting it if it never ran. A plugin
// that is restarting is reported as ErrDown rather than waited for.
func (m *Manager) get(ctx context.Context, name string, wait bool) (*proc, *sdk.Client, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, nil, errors.New("plugin manager is closed")
	}
	p, ok := m.plugins[name]
	if !ok {
		p = &proc{name: name, m: m, configs: map[string][]byte{}}
		m.plugins[name] = p
	}
	m.mu.Unlock()

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.checker != nil && !p.client.Exited() {
		return p, p.checker, nil
	}
	if p.restartOn && !wait {
		return p, nil, fmt.Errorf("plugin %q: %w (restarting)", name, ErrDown)
	}
	if p.client == nil || wait {
		if err := p.startLocked(ctx); err != nil {
			return p, nil, err
		}
		return p, p.checker, nil
	}
	p.scheduleRestartLocked("exited")
	return p, nil, fmt.Errorf("plugin %q: %w (exited; restarting)", name, ErrDown)
}

// startLocked starts the plugin for the first time, with p.mu held so that
// concurrent first uses start one process.
func (p *proc) startLocked(ctx context.Context) error {
	client, checker, err := p.spawn(ctx, p.configs)
	if err != nil {
		return err
	}
	p.installLocked(client, checker)
	return nil
}

// spawn starts a process and hands it configs (check id -> config); it
// holds no lock, so checks fail fast meanwhile instead of waiting.
func (p *proc) spawn(ctx context.Context, configs map[string][]byte) (*goplugin.Client, *sdk.Client, error) {
	path, err := p.m.Path(p.name)
	if err != nil {
		return nil, nil, err
	}
	cfg := &goplugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake(),
		VersionedPlugins: sdk.PluginSets(nil),
		Cmd:              exec.Command(path),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     p.m.opts.StartTimeout,
		Logger:           newHCLogger(p.m.opts.Log.With(zap.String("plugin", p.name))),
	}
	// The plugin dies with the host even when the host is SIGKILLed. The
	// signal follows the thread that forks, so that thread is pinned while
	// it does (the SDK also watches its parent from the plugin side).
	cfg.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Checks are I/O: one P spares the plugin cross-thread wake-ups on every
	// call (measured: RPC overhead p50 about halved) and memory. An operator
	// who sets GOMAXPROCS for the daemon sets it for its plugins too.
	if os.Getenv("GOMAXPROCS") == "" {
		cfg.Cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	}
	if want, ok := p.m.opts.Pins[p.name]; ok {
		sum, err := hex.DecodeString(want)
		if err != nil || len(sum) != sha256.Size {
			return nil, nil, fmt.Errorf("plugin %q: pinned sha256 %q is not 64 hex digits", p.name, want)
		}
		cfg.SecureConfig = &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	client := goplugin.NewClient(cfg)
	runtime.LockOSThread()
	rpc, err := client.Client()
	runtime.UnlockOSThread()
	if err != nil {
		client.Kill()
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			return nil, nil, fmt.Errorf("plugin %q: %s does not match its pinned sha256; refusing to run it", p.name, path)
		}
		return nil, nil, fmt.Errorf("plugin %q: starting %s: %w", p.name, path, err)
	}
	checker, err := sdk.Dispense(rpc)
	if err != nil {
		client.Kill()
		return nil, nil, fmt.Errorf("plugin %q: %w", p.name, err)
	}
	for id, c := range configs {
		if _, err := checker.Configure(ctx, id, c); err != nil {
			p.m.opts.Log.Warn("re-sending a check to a restarted plugin", zap.String("plugin", p.name),
				zap.String("check", id), zap.Error(err))
		}
	}
	return client, checker, nil
}

func (p *proc) installLocked(client *goplugin.Client, checker *sdk.Client) {
	p.client, p.checker = client, checker
	p.gen++
	p.hung = 0
	p.upSince = time.Now()
	go p.watch(client, p.gen)
}

// watch notices the process exit and schedules a restart.
func (p *proc) watch(client *goplugin.Client, gen int) {
	for !client.Exited() {
		time.Sleep(25 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen == gen && !p.m.isClosed() {
		p.scheduleRestartLocked("exited")
	}
}

// scheduleRestartLocked kills the current process (in the background, as a
// stopped process makes go-plugin wait) and starts a new one after the
// backoff, until one starts.
func (p *proc) scheduleRestartLocked(why string) {
	if p.restartOn {
		return
	}
	p.restartOn = true
	if time.Since(p.upSince) > time.Minute {
		p.attempt = 0 // it ran well for a while: start the backoff afresh
	}
	old := p.client
	p.checker = nil
	p.gen++
	if old != nil {
		go old.Kill()
	}
	go p.restartLoop(why)
}

func (p *proc) restartLoop(why string) {
	for {
		p.mu.Lock()
		p.attempt++
		n := p.attempt
		p.mu.Unlock()
		delay := p.m.opts.Backoff(n)
		p.m.opts.Log.Warn("restarting plugin", zap.String("plugin", p.name), zap.String("reason", why),
			zap.Int("attempt", n), zap.Duration("after", delay))
		time.Sleep(delay)
		if p.m.isClosed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.m.opts.StartTimeout)
		p.mu.Lock()
		configs := make(map[string][]byte, len(p.configs))
		for id, c := range p.configs {
			configs[id] = c
		}
		p.mu.Unlock()
		client, checker, err := p.spawn(ctx, configs)
		if err == nil {
			p.mu.Lock()
			if p.m.isClosed() {
				p.mu.Unlock()
				cancel()
				client.Kill()
				return
			}
			p.installLocked(client, checker)
			p.restarts++
			p.restartOn = false
			p.attempt = 0
			p.mu.Unlock()
		}
		cancel()
		if err == nil {
			p.m.opts.Log.Info("plugin restarted", zap.String("plugin", p.name), zap.Int("attempt", n))
			return
		}
		p.m.opts.Log.Error("plugin failed to start", zap.String("plugin", p.name), zap.Error(err))
	}
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Schema starts the plugin if needed and returns its schema.
func (m *Manager) Schema(ctx context.Context, name string) (sdk.Schema, error) {
	_, c, err := m.get(ctx, name, false)
	if err != nil {
		return sdk.Schema{}, err
	}
	return c.Schema(ctx)
}

// Validate asks the plugin whether it accepts a check's configuration.
func (m *Manager) Validate(ctx context.Context, name string, cfg []byte) (sdk.Diagnostics, error) {
	_, c, err := m.get(ctx, name, false)
	if err != nil {
		return nil, err
	}
	return c.Validate(ctx, cfg)
}

// Configure hands the plugin a check; the configuration is remembered and
// re-sent after every restart.
func (m *Manager) Configure(ctx context.Context, name, checkID string, cfg []byte) (sdk.Diagnostics, error) {
	p, c, err := m.get(ctx, name, false)
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
	p, c, err := m.get(ctx, name, false)
	if p != nil {
		p.mu.Lock()
		delete(p.configs, checkID)
		p.mu.Unlock()
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
	p, c, err := m.get(ctx, name, false)
	if err != nil {
		return sdk.Result{}, 0, err
	}
	p.mu.Lock()
	gen := p.gen
	p.mu.Unlock()
	res, latency, err := c.Check(ctx, checkID)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen != gen {
		return res, latency, err // answered by a process that has since been replaced
	}
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		p.hung++
		if p.hung >= m.opts.HungAfter {
			p.scheduleRestartLocked(fmt.Sprintf("%d checks in a row got no answer before their deadline", p.hung))
		}
	} else {
		p.hung = 0
	}
	return res, latency, err
}

// Restarts counts the restarts of plugin name.
func (m *Manager) Restarts(name string) int {
	m.mu.Lock()
	p, ok := m.plugins[name]
	m.mu.Unlock()
	if !ok {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// Pid is the process id of plugin name, or 0 when it is not running.
func (m *Manager) Pid(name string) int {
	m.mu.Lock()
	p, ok := m.plugins[name]
	m.mu.Unlock()
	if !ok {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil || p.client.Exited() || p.client.ReattachConfig() == nil {
		return 0
	}
	return p.client.ReattachConfig().Pid
}

// Close kills every plugin and waits for them to go.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	procs := make([]*proc, 0, len(m.plugins))
	for _, p := range m.plugins {
		procs = append(procs, p)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		p.mu.Lock()
		c := p.client
		p.checker = nil
		p.gen++
		p.mu.Unlock()
		if c != nil {
			wg.Go(c.Kill)
		}
	}
	wg.Wait()
}
