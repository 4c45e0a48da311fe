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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/hasidecar/hasidecar/host/execsafe"
	"github.com/hasidecar/hasidecar/sdk"
)

// The process side of the Manager: starting a plugin, watching it, taking
// it for hung, restarting it with backoff and stopping it. The API the
// daemon calls is in manager.go.

// proc is one plugin and its process (or the lack of one).
type proc struct {
	name string
	m    *Manager

	mu        sync.Mutex
	client    *goplugin.Client
	cmd       *exec.Cmd // client's process, for a hard kill
	checker   *sdk.Client
	gen       int               // bumped at every start, so stale failures are ignored
	configs   map[string][]byte // check id -> config, re-sent after a restart
	restarts  int
	attempt   int  // consecutive failed starts, for the backoff
	hung      int  // consecutive deadline errors
	probing   bool // a liveness call is deciding whether it is hung
	restartOn bool
	retired   bool // Stop took it out of the manager: restarts give up
	upSince   time.Time
}

// startLocked starts the plugin for the first time, with p.mu held so that
// concurrent first uses start one process.
func (p *proc) startLocked(ctx context.Context) error {
	if p.m.isClosed() {
		return errClosed
	}
	s, err := p.spawn(ctx, p.configs)
	if err != nil {
		return err
	}
	if p.m.isClosed() { // Close ran meanwhile, and waits for p.mu to stop this one
		p.client, p.cmd = s.client, s.cmd
		return errClosed
	}
	p.installLocked(s)
	return nil
}

var errClosed = errors.New("plugin manager is closed")

// spawned is a freshly started plugin process.
type spawned struct {
	client  *goplugin.Client
	cmd     *exec.Cmd
	checker *sdk.Client
}

// spawn starts a process and hands it configs (check id -> config); it
// holds no lock, so checks fail fast meanwhile instead of waiting.
func (p *proc) spawn(ctx context.Context, configs map[string][]byte) (spawned, error) {
	path, err := p.m.Path(p.name)
	if err != nil {
		return spawned{}, err
	}
	if err := execsafe.Check(path); err != nil {
		return spawned{}, fmt.Errorf("plugin %s: %w", p.name, err)
	}
	log := p.m.opts.Log.With(zap.String("plugin", p.name))
	cfg := &goplugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake(),
		VersionedPlugins: sdk.PluginSets(nil),
		Cmd:              exec.Command(path),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     p.m.opts.StartTimeout,
		Logger:           newHCLogger(log),
		// What the plugin writes to os.Stdout or os.Stderr after Serve
		// arrives over gRPC; go-plugin discards it unless told otherwise.
		SyncStdout: newStreamWriter(log, "stdout"),
		SyncStderr: newStreamWriter(log, "stderr"),
	}
	// The plugin dies with the host even when the host is SIGKILLed. The
	// signal follows the thread that forks, so that thread is pinned while
	// it does (the SDK also watches its parent from the plugin side).
	cfg.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cfg.Cmd.Env = os.Environ()
	// Checks are I/O: one P spares the plugin a cross-thread wake-up on
	// every call, and memory (docs/performance.md). An operator who sets
	// GOMAXPROCS for the daemon sets it for its plugins too.
	if os.Getenv("GOMAXPROCS") == "" {
		cfg.Cmd.Env = append(cfg.Cmd.Env, "GOMAXPROCS=1")
	}
	// go-plugin's socket goes into a directory of this process's own, which
	// stop removes: a killed plugin cannot remove its socket itself, and
	// restarts would otherwise leave one file in /tmp each.
	sockDir, err := os.MkdirTemp("", socketDirPrefix+p.name+"-")
	if err != nil {
		return spawned{}, fmt.Errorf("plugin %q: a directory for its socket: %w", p.name, err)
	}
	cfg.Cmd.Env = append(cfg.Cmd.Env, goplugin.EnvUnixSocketDir+"="+sockDir)
	if want, ok := p.m.opts.Pins[p.name]; ok {
		sum, err := hex.DecodeString(want)
		if err != nil || len(sum) != sha256.Size {
			return spawned{}, fmt.Errorf("plugin %q: pinned sha256 %q is not 64 hex digits", p.name, want)
		}
		cfg.SecureConfig = &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	client := goplugin.NewClient(cfg)
	// go-plugin forks inside Client(), on this goroutine; pinning it keeps
	// the forking thread, which Pdeathsig is tied to, alive afterwards.
	runtime.LockOSThread()
	rpc, err := client.Client()
	runtime.UnlockOSThread()
	if err != nil {
		stop(client, cfg.Cmd, true)
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			return spawned{}, fmt.Errorf("plugin %q: %s does not match its pinned sha256; refusing to run it", p.name, path)
		}
		return spawned{}, fmt.Errorf("plugin %q: starting %s: %w", p.name, path, err)
	}
	checker, err := sdk.Dispense(rpc)
	if err != nil {
		stop(client, cfg.Cmd, true)
		return spawned{}, fmt.Errorf("plugin %q: %w", p.name, err)
	}
	if err := lowerPriority(cfg.Cmd.Process.Pid, pluginNice); err != nil {
		log.Debug("lowering the plugin's CPU priority", zap.Error(err))
	}
	for id, c := range configs {
		diags, err := checker.Configure(ctx, id, c)
		if err == nil && diags.HasErrors() {
			err = fmt.Errorf("%s", diags[0].Summary)
		}
		if err != nil {
			log.Warn("re-sending a check to a restarted plugin", zap.String("check", id), zap.Error(err))
		}
	}
	return spawned{client: client, cmd: cfg.Cmd, checker: checker}, nil
}

// pluginNice is the nice value of plugin processes, as keepalived's
// checker_priority: on a busy machine the daemon's adverts keep their time
// and a check waits a little instead (docs/performance.md).
const pluginNice = 10

// lowerPriority sets the nice value of every thread of pid: Linux keeps it
// per thread, and threads created later inherit it from their creator.
func lowerPriority(pid, nice int) error {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	var errs []error
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (p *proc) installLocked(s spawned) {
	p.client, p.cmd, p.checker = s.client, s.cmd, s.checker
	p.gen++
	p.hung = 0
	p.upSince = time.Now()
	go p.watch(s.client, p.gen)
}

// stop ends a plugin process and waits for it. go-plugin's Kill first asks
// the plugin to shut down and waits for its answer, which a stopped or hung
// process never gives; so a hung one (hard) is SIGKILLed at once, and any
// other that is not gone within killGrace is SIGKILLed then. Kill also
// waits for the plugin's stdout and stderr to close, which a child the
// plugin left behind can hold open: stop gives up waiting after another
// killGrace rather than hold up a restart or the host's shutdown.
func stop(c *goplugin.Client, cmd *exec.Cmd, hard bool) {
	defer removeSocketDir(cmd)
	if hard {
		killProcess(cmd)
	}
	done := make(chan struct{})
	go func() {
		c.Kill()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(killGrace):
	}
	killProcess(cmd)
	select {
	case <-done:
	case <-time.After(killGrace):
	}
}

// socketDirPrefix starts the name of each plugin process's socket directory
// (the SDK also removes it when the plugin outlives its host).
const socketDirPrefix = "hasidecar-plugin-"

// removeSocketDir removes the socket directory spawn made for cmd's process.
func removeSocketDir(cmd *exec.Cmd) {
	if cmd == nil {
		return
	}
	for _, kv := range cmd.Env {
		if dir, ok := strings.CutPrefix(kv, goplugin.EnvUnixSocketDir+"="); ok &&
			strings.HasPrefix(filepath.Base(dir), socketDirPrefix) {
			_ = os.RemoveAll(dir)
		}
	}
}

// killGrace is how long a plugin has to exit after being asked to.
const killGrace = 3 * time.Second

// killProcess SIGKILLs cmd's process unless it was never started or has
// been reaped (os.Process tracks that, so a reused pid is never hit).
func killProcess(cmd *exec.Cmd) {
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

// watch notices the process exit and schedules a restart.
func (p *proc) watch(client *goplugin.Client, gen int) {
	for !client.Exited() {
		time.Sleep(25 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen == gen && !p.m.isClosed() {
		p.scheduleRestartLocked("exited", false)
	}
}

// scheduleRestartLocked kills the current process (in the background, as a
// stopped process makes go-plugin wait) and starts a new one after the
// backoff, until one starts. hard: the process is hung, SIGKILL it at once.
func (p *proc) scheduleRestartLocked(why string, hard bool) {
	if p.restartOn {
		return
	}
	p.restartOn = true
	if time.Since(p.upSince) > time.Minute {
		p.attempt = 0 // it ran well for a while: start the backoff afresh
	}
	old, oldCmd := p.client, p.cmd
	p.client, p.cmd, p.checker = nil, nil, nil
	p.gen++
	if old != nil && !p.m.goBackground(func() { stop(old, oldCmd, hard) }) {
		p.client, p.cmd = old, oldCmd // closing: Close stops it
	}
	p.m.goBackground(func() { p.restartLoop(why) })
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
		select {
		case <-time.After(delay):
		case <-p.m.done:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.m.opts.StartTimeout)
		p.mu.Lock()
		configs := make(map[string][]byte, len(p.configs))
		for id, c := range p.configs {
			configs[id] = c
		}
		p.mu.Unlock()
		s, err := p.spawn(ctx, configs)
		if err == nil {
			p.mu.Lock()
			if p.m.isClosed() || p.retired {
				p.mu.Unlock()
				cancel()
				stop(s.client, s.cmd, false)
				return
			}
			p.installLocked(s)
			p.restarts++
			p.restartOn = false
			// attempt is kept: a plugin that crashes again soon waits
			// longer; one that runs for a while starts afresh.
			var removed []string
			for id := range configs {
				if _, ok := p.configs[id]; !ok {
					removed = append(removed, id)
				}
			}
			p.mu.Unlock()
			for _, id := range removed { // removed while it was down
				_ = s.checker.Remove(ctx, id)
			}
		}
		cancel()
		if err == nil {
			p.m.opts.Log.Info("plugin restarted", zap.String("plugin", p.name), zap.Int("attempt", n))
			return
		}
		p.m.opts.Log.Error("plugin failed to start", zap.String("plugin", p.name), zap.Error(err))
	}
}

// hungProbe is how long a plugin whose checks keep running into their
// deadline has to answer a cheap call before it is taken for hung.
const hungProbe = 500 * time.Millisecond

// confirmHung tells a hung plugin from one whose checks are merely slow (a
// script that hangs, killed by the plugin at the very deadline the host gives
// up at): only a plugin that does not answer a schema request either is
// killed and restarted. Killing a live one would leave the process group of
// the script it was about to kill behind.
func (p *proc) confirmHung(c *sdk.Client, gen int) {
	ctx, cancel := context.WithTimeout(context.Background(), hungProbe)
	_, err := c.Schema(ctx)
	cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.probing = false
	if p.gen != gen {
		return
	}
	if err == nil {
		p.hung = 0
		p.m.opts.Log.Debug("plugin answers, its checks are only slow", zap.String("plugin", p.name))
		return
	}
	p.scheduleRestartLocked(fmt.Sprintf("%d checks in a row got no answer before their deadline, nor a schema request within %v",
		p.hung, hungProbe), true)
}
