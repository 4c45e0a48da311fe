package daemon

import (
	"context"
	"reflect"
	"sync"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/notify"
	"github.com/hasidecar/hasidecar/host/syncgroup"
	"github.com/hasidecar/hasidecar/host/vrrp"
)

// groups runs the sync groups: what happens to members reaches the
// coordinator in order, on one goroutine, and what it decides is delivered
// to the members and the groups' notify scripts. A nil *groups (no
// sync_group in the file) does nothing.
type groups struct {
	coord     *syncgroup.Coordinator
	notifiers map[string]*notify.Notifier
	log       *zap.Logger

	mu     sync.Mutex // guards closed and sends on events
	closed bool
	events chan groupEvent
	done   chan struct{}
	nwg    sync.WaitGroup
	stopN  context.CancelFunc
}

// groupEvent is a member's transition, or one of its own faults.
type groupEvent struct {
	member   string
	from, to vrrp.State
	fault    bool // an own fault: reason and active below
	reason   string
	active   bool
	want     *bool // a held member wants to be master, or no longer
	rejoin   bool  // the member's instance was rebuilt
}

// startGroups starts the groups of cfg; deliver hands a member an event.
func startGroups(ctx context.Context, cfg *config.Config, log *zap.Logger, deliver func(member string, ev vrrp.Event)) *groups {
	if len(cfg.SyncGroups) == 0 {
		return nil
	}
	var specs []syncgroup.Spec
	g := &groups{notifiers: map[string]*notify.Notifier{}, log: log, events: make(chan groupEvent, 1024), done: make(chan struct{})}
	nctx, stop := context.WithCancel(context.Background())
	g.stopN = stop
	for _, sg := range cfg.SyncGroups {
		specs = append(specs, syncgroup.Spec{Name: sg.Name, Members: sg.Instances})
		s := notify.Scripts{Notify: sg.Notify, Master: sg.NotifyMaster, Backup: sg.NotifyBackup, Fault: sg.NotifyFault, Stop: sg.NotifyStop}
		if s.Empty() {
			continue
		}
		n := notify.New(s, notify.DefaultTimeout, log.With(zap.String("sync_group", sg.Name)))
		g.notifiers[sg.Name] = n
		g.nwg.Add(1)
		go func() { defer g.nwg.Done(); n.Run(nctx) }()
	}
	g.coord = syncgroup.New(specs)
	go g.loop(ctx, deliver)
	return g
}

func (g *groups) loop(ctx context.Context, deliver func(string, vrrp.Event)) {
	defer close(g.done)
	for ev := range g.events {
		var cmds []syncgroup.Command
		var change *syncgroup.Change
		switch {
		case ev.rejoin:
			cmds = g.coord.Rejoin(ev.member)
		case ev.want != nil:
			cmds = g.coord.Want(ev.member, *ev.want)
		case ev.fault:
			cmds = g.coord.OwnFault(ev.member, ev.reason, ev.active)
		default:
			cmds, change = g.coord.Transition(ev.member, ev.from, ev.to)
		}
		for _, c := range cmds {
			g.log.Info("sync group moves a member", zap.String("sync_group", g.coord.GroupOf(ev.member)),
				zap.String("instance", c.Member), zap.String("because", ev.member), zap.String("event", describe(c.Event)))
			deliver(c.Member, c.Event)
		}
		if change != nil {
			g.log.Info("sync group state", zap.String("sync_group", change.Group), zap.String("state", change.State))
			if n := g.notifiers[change.Group]; n != nil {
				n.Notify(notify.Event{Instance: change.Group, State: change.State, Group: true})
			}
		}
	}
}

func describe(ev vrrp.Event) string {
	switch e := ev.(type) {
	case vrrp.FaultChanged:
		if e.Active {
			return "fault raised"
		}
		return "fault cleared"
	case vrrp.Resign:
		return "resign"
	case vrrp.Hold:
		if e.Active {
			return "held back from master"
		}
		return "released"
	}
	return reflect.TypeOf(ev).String()
}

func (g *groups) send(ev groupEvent) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.events <- ev
	}
}

// transition tells the groups that member changed state.
func (g *groups) transition(member string, tr vrrp.Transition) {
	g.send(groupEvent{member: member, from: tr.From, to: tr.To})
}

// want tells the groups that a held member would be master, or no longer.
func (g *groups) want(member string, want bool) {
	g.send(groupEvent{member: member, want: &want})
}

// rejoin tells the groups that member's instance was rebuilt: it is told
// where its group stands.
func (g *groups) rejoin(member string) {
	g.send(groupEvent{member: member, rejoin: true})
}

// ownFault tells the groups that one of member's own fault reasons changed.
func (g *groups) ownFault(member, reason string, active bool) {
	g.send(groupEvent{member: member, fault: true, reason: reason, active: active})
}

// stop (once; later calls return at once) handles what is queued (the members' last transitions), then lets
// the notify scripts finish theirs.
func (g *groups) stop() {
	if g == nil {
		return
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	close(g.events)
	g.mu.Unlock()
	<-g.done
	g.stopN()
	g.nwg.Wait()
}

// changed says whether next's sync groups differ from old's: they take
// effect at the next restart.
func groupsChanged(old, next *config.Config) bool {
	return !reflect.DeepEqual(groupKey(old), groupKey(next))
}

func groupKey(c *config.Config) []string {
	var out []string
	for _, g := range c.SyncGroups {
		out = append(out, g.Name)
		out = append(out, g.Instances...)
		out = append(out, g.Notify, "|")
		for _, l := range [][]string{g.NotifyMaster, g.NotifyBackup, g.NotifyFault, g.NotifyStop} {
			out = append(out, l...)
			out = append(out, "|")
		}
	}
	return out
}

// deliverTo hands the instance named member an event from its sync group.
func (d *Daemon) deliverTo(member string, ev vrrp.Event) {
	for _, t := range d.current() {
		if _, _, _, name := d.view(t); name == member {
			t.Deliver(d.ctx, ev)
			return
		}
	}
}
