// Package notify runs an instance's notify script on every state change,
// as keepalived's notify does: `SCRIPT INSTANCE STATE PRIORITY`. Scripts of
// one instance run one at a time in transition order; a slow or failing
// script delays only later notifications of that instance, never VRRP.
package notify

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/execsafe"
)

// DefaultTimeout bounds one run of a notify script.
const DefaultTimeout = 10 * time.Second

// queueLen is how many notifications may wait behind a running script. When
// it is full the oldest waiting one is dropped (and logged): the newest
// state is the one that matters.
const queueLen = 32

// Event is one transition to report.
type Event struct {
	Instance string
	State    string // INIT, BACKUP, MASTER or FAULT
	Priority uint8
}

// Notifier runs one script for one instance.
type Notifier struct {
	script  string
	timeout time.Duration
	log     *zap.Logger
	queue   chan Event
}

// New returns a notifier for script; Run must be started for it to work.
func New(script string, timeout time.Duration, log *zap.Logger) *Notifier {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Notifier{script: script, timeout: timeout, log: log.With(zap.String("notify", script)), queue: make(chan Event, queueLen)}
}

// Script is the path of the script this notifier runs.
func (n *Notifier) Script() string { return n.script }

// Notify queues ev and returns at once.
func (n *Notifier) Notify(ev Event) {
	for {
		select {
		case n.queue <- ev:
			return
		default:
		}
		select {
		case old := <-n.queue:
			n.log.Warn("notify script is behind; dropped a notification",
				zap.String("instance", old.Instance), zap.String("state", old.State))
		default:
		}
	}
}

// Run runs queued notifications in order until ctx ends; notifications
// still queued then are run first, each within its timeout, so that the
// last state (INIT on shutdown) reaches the script.
func (n *Notifier) Run(ctx context.Context) {
	for {
		select {
		case ev := <-n.queue:
			n.run(ev)
		case <-ctx.Done():
			for {
				select {
				case ev := <-n.queue:
					n.run(ev)
				default:
					return
				}
			}
		}
	}
}

func (n *Notifier) run(ev Event) {
	// Checked at every run: a script made writable later is refused too.
	if err := execsafe.Check(n.script); err != nil {
		n.log.Error("notify script not run", zap.String("instance", ev.Instance), zap.String("state", ev.State), zap.Error(err))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.script, ev.Instance, ev.State, strconv.Itoa(int(ev.Priority)))
	// Its own process group, so a timeout kills what it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	fields := []zap.Field{
		zap.String("instance", ev.Instance), zap.String("state", ev.State), zap.Uint8("priority", ev.Priority),
		zap.Duration("took", time.Since(start)), zap.String("output", trim(out.String())),
	}
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		n.log.Warn(fmt.Sprintf("notify script killed after %v", n.timeout), fields...)
	case err != nil:
		n.log.Warn("notify script failed", append(fields, zap.Error(err))...)
	default:
		n.log.Info("notify script ran", fields...)
	}
}

func trim(s string) string {
	const limit = 1024
	s = string(bytes.TrimSpace([]byte(s)))
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
