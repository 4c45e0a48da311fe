// Package notify runs an instance's (or a sync group's) notify scripts on
// every state change, as keepalived does: first the script for the state
// entered (notify_master, notify_backup, notify_fault, notify_stop: a
// program and its arguments), then the `notify` script called as
// `SCRIPT INSTANCE NAME STATE PRIORITY` (`SCRIPT GROUP NAME STATE 0` for a
// group), so that scripts written for keepalived run unchanged. Scripts of
// one instance run one at a time in transition order; a slow or failing
// script delays only later notifications of that instance, never VRRP.
package notify

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
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
	Instance string // the instance's (or group's) name
	State    string // INIT (the daemon stopping: keepalived's STOP), BACKUP, MASTER or FAULT
	Priority uint8  // 0 for a group, as keepalived
	Group    bool   // a sync group's transition: GROUP rather than INSTANCE
}

// Scripts are what runs on a transition.
type Scripts struct {
	Notify string // called as SCRIPT INSTANCE|GROUP NAME STATE PRIORITY; "" for none
	// Master, Backup, Fault and Stop run on entering that state: the
	// program and its arguments, nothing added; nil for none.
	Master, Backup, Fault, Stop []string
}

// Empty says whether nothing would run.
func (s Scripts) Empty() bool {
	return s.Notify == "" && s.Master == nil && s.Backup == nil && s.Fault == nil && s.Stop == nil
}

// Equal says whether s and o run the same commands.
func (s Scripts) Equal(o Scripts) bool {
	return s.Notify == o.Notify && slices.Equal(s.Master, o.Master) && slices.Equal(s.Backup, o.Backup) &&
		slices.Equal(s.Fault, o.Fault) && slices.Equal(s.Stop, o.Stop)
}

// forState is the notify_STATE command for state, or nil.
func (s Scripts) forState(state string) []string {
	switch state {
	case "MASTER":
		return s.Master
	case "BACKUP":
		return s.Backup
	case "FAULT":
		return s.Fault
	case "STOP":
		return s.Stop
	}
	return nil
}

// Notifier runs the scripts of one instance or group.
type Notifier struct {
	scripts Scripts
	timeout time.Duration
	log     *zap.Logger
	queue   chan Event
}

// New returns a notifier for scripts; Run must be started for it to work.
func New(scripts Scripts, timeout time.Duration, log *zap.Logger) *Notifier {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Notifier{scripts: scripts, timeout: timeout, log: log.With(zap.String("notify", scripts.Notify)), queue: make(chan Event, queueLen)}
}

// Scripts are the commands this notifier runs.
func (n *Notifier) Scripts() Scripts { return n.scripts }

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

// run runs ev's scripts in keepalived's order: the state's own script,
// then the generic one.
func (n *Notifier) run(ev Event) {
	state := ev.State
	if state == "INIT" {
		state = "STOP" // leaving the election is keepalived's STOP
	}
	if argv := n.scripts.forState(state); len(argv) > 0 {
		n.exec(ev, argv)
	}
	if n.scripts.Notify != "" {
		kind := "INSTANCE"
		if ev.Group {
			kind = "GROUP"
		}
		n.exec(ev, []string{n.scripts.Notify, kind, ev.Instance, state, strconv.Itoa(int(ev.Priority))})
	}
}

// exec runs one command within the timeout.
func (n *Notifier) exec(ev Event, argv []string) {
	// Checked at every run: a script made writable later is refused too.
	if err := execsafe.Check(argv[0]); err != nil {
		n.log.Error("notify script not run", zap.Strings("command", argv), zap.String("instance", ev.Instance), zap.String("state", ev.State), zap.Error(err))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// Its own process group, so a timeout kills what it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	fields := []zap.Field{
		zap.Strings("command", argv), zap.String("instance", ev.Instance), zap.String("state", ev.State), zap.Uint8("priority", ev.Priority),
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
