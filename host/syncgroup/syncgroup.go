// Package syncgroup decides what keepalived's vrrp_sync_group does: the
// members of a group move together. It is pure: the daemon tells it what
// happened to a member (its own fault raised or cleared, a transition) and
// delivers the events it returns.
//
// The rules, as keepalived 2.2.7 applies them:
//   - a member in FAULT of its own (a link down, a weight-0 check failing)
//     puts every member in FAULT, until no member has a fault of its own;
//   - a member that steps down from MASTER to BACKUP makes the other masters
//     of the group resign (keepalived's vrrp_sync_backup), so that the other
//     node takes every member over;
//   - a member becomes MASTER only together with the others: while another
//     member is BACKUP and does not want to be master (it follows a master
//     on the other node), it is held (vrrp.Hold); a held member whose
//     master is down says it wants to be master, and once every backup
//     member does, the holds are released and they become master together
//     (keepalived's vrrp_sync_can_goto_master);
//   - the group is MASTER when every member is, FAULT when any member is,
//     STOP when every member stopped, and BACKUP otherwise; each change of
//     the group's state is reported once, for its notify scripts.
package syncgroup

import (
	"fmt"
	"slices"
	"sort"

	"github.com/hasidecar/hasidecar/host/vrrp"
)

// Spec is one group: its name and its members' instance names.
type Spec struct {
	Name    string
	Members []string
}

// Command is an event for one member.
type Command struct {
	Member string
	Event  vrrp.Event
}

// Change is a group entering a state: MASTER, BACKUP, FAULT or STOP.
type Change struct {
	Group string
	State string
}

// Coordinator holds every group's view of its members.
type Coordinator struct {
	groups   []*group
	byMember map[string]*group
}

type group struct {
	spec       Spec
	state      map[string]vrrp.State      // each member's last state
	own        map[string]map[string]bool // each member's own fault reasons
	faulted    bool                       // the group fault reason is raised on the members
	resigning  map[string]bool            // members told to resign, not yet backup
	wants      map[string]bool            // held backups whose master is down
	held       map[string]bool            // members the group holds back
	groupState string
}

// New returns a coordinator for groups. A member named by two groups
// belongs to the first (the configuration refuses it anyway).
func New(groups []Spec) *Coordinator {
	c := &Coordinator{byMember: map[string]*group{}}
	for _, s := range groups {
		g := &group{spec: s, state: map[string]vrrp.State{}, own: map[string]map[string]bool{}, resigning: map[string]bool{},
			wants: map[string]bool{}, held: map[string]bool{}}
		for _, m := range s.Members {
			if _, taken := c.byMember[m]; !taken {
				c.byMember[m] = g
				g.state[m] = vrrp.Init
				g.own[m] = map[string]bool{}
			}
		}
		c.groups = append(c.groups, g)
	}
	return c
}

// FaultReason is the fault a group raises on its members while one of them
// is in FAULT of its own.
func FaultReason(group string) string {
	return fmt.Sprintf("sync group %s: a member is in FAULT", group)
}

// HoldReason is the hold a group puts on a member that may not become
// master alone.
func HoldReason(group string) string {
	return fmt.Sprintf("sync group %s: waiting for every member", group)
}

// Want records that a held member would be master (its master is down), or
// follows a master again, and returns the holds to raise or release.
func (c *Coordinator) Want(member string, want bool) []Command {
	g := c.byMember[member]
	if g == nil {
		return nil
	}
	g.wants[member] = want
	return g.updateHolds()
}

// updateHolds holds each member while another is backup without wanting
// to be master, and releases it otherwise.
func (g *group) updateHolds() []Command {
	var out []Command
	for _, m := range g.members() {
		blocked := false
		for _, n := range g.members() {
			blocked = blocked || (n != m && g.state[n] == vrrp.Backup && !g.wants[n])
		}
		if blocked != g.held[m] {
			g.held[m] = blocked
			out = append(out, Command{Member: m, Event: vrrp.Hold{Reason: HoldReason(g.spec.Name), Active: blocked}})
		}
	}
	return out
}

// Rejoin returns what a member whose instance was rebuilt (a reload that
// replaced it) must be told to stand where its group stands: the group's
// fault, if raised, and its hold, if the group holds it back.
func (c *Coordinator) Rejoin(member string) []Command {
	g := c.byMember[member]
	if g == nil {
		return nil
	}
	var out []Command
	if g.faulted {
		out = append(out, Command{Member: member, Event: vrrp.FaultChanged{Reason: FaultReason(g.spec.Name), Active: true}})
	}
	if g.held[member] {
		out = append(out, Command{Member: member, Event: vrrp.Hold{Reason: HoldReason(g.spec.Name), Active: true}})
	}
	return out
}

// OwnFault records that one of member's own fault reasons was raised or
// cleared, and returns the group fault to raise or clear on every member.
func (c *Coordinator) OwnFault(member, reason string, active bool) []Command {
	g := c.byMember[member]
	if g == nil {
		return nil
	}
	if active {
		g.own[member][reason] = true
	} else {
		delete(g.own[member], reason)
	}
	any := false
	for _, m := range g.members() {
		any = any || len(g.own[m]) > 0
	}
	if any == g.faulted {
		return nil
	}
	g.faulted = any
	var out []Command
	for _, m := range g.members() {
		out = append(out, Command{Member: m, Event: vrrp.FaultChanged{Reason: FaultReason(g.spec.Name), Active: any}})
	}
	return out
}

// Transition records that member moved from one state to another, and
// returns what the other members must do and the group's new state, if it
// changed.
func (c *Coordinator) Transition(member string, from, to vrrp.State) ([]Command, *Change) {
	g := c.byMember[member]
	if g == nil {
		return nil, nil
	}
	g.state[member] = to
	g.wants[member] = false
	var out []Command
	wasTold := g.resigning[member]
	if to != vrrp.Master {
		delete(g.resigning, member)
	}
	if from == vrrp.Master && to == vrrp.Backup && !wasTold {
		for _, m := range g.members() {
			if m != member && g.state[m] == vrrp.Master && !g.resigning[m] {
				g.resigning[m] = true
				out = append(out, Command{Member: m, Event: vrrp.Resign{
					Reason: fmt.Sprintf("sync group %s: %s became backup", g.spec.Name, member)}})
			}
		}
	}
	out = append(out, g.updateHolds()...)
	if st := g.computeState(); st != g.groupState {
		g.groupState = st
		if st != "" {
			return out, &Change{Group: g.spec.Name, State: st}
		}
	}
	return out, nil
}

// computeState is the group's state from its members', or "" while any
// member has not started.
func (g *group) computeState() string {
	count := map[vrrp.State]int{}
	for _, m := range g.members() {
		count[g.state[m]]++
	}
	n := len(g.state)
	switch {
	case count[vrrp.Fault] > 0:
		return "FAULT"
	case count[vrrp.Master] == n:
		return "MASTER"
	case count[vrrp.Init] == n && g.groupState != "":
		return "STOP"
	case count[vrrp.Init] > 0:
		return g.groupState // starting or stopping: keep the last state
	}
	return "BACKUP"
}

func (g *group) members() []string {
	out := make([]string, 0, len(g.state))
	for m := range g.state {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// GroupOf is the group member belongs to, or "".
func (c *Coordinator) GroupOf(member string) string {
	if g := c.byMember[member]; g != nil {
		return g.spec.Name
	}
	return ""
}

// Members lists a group's members, or nil.
func (c *Coordinator) Members(group string) []string {
	for _, g := range c.groups {
		if g.spec.Name == group {
			return slices.Clone(g.spec.Members)
		}
	}
	return nil
}
