package syncgroup

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hasidecar/hasidecar/host/vrrp"
)

// step is one thing that happens to a member, and what the coordinator
// must answer: commands as "MEMBER:fault+", "MEMBER:fault-", "MEMBER:resign",
// and the group's new state ("" for none).
type step struct {
	member   string
	fault    *bool // an own fault raised (true) or cleared (false)
	wants    bool  // a held member's master is down
	from, to vrrp.State
	want     []string
	group    string
}

func raiseFault(m string) step { t := true; return step{member: m, fault: &t} }
func clearFault(m string) step { f := false; return step{member: m, fault: &f} }
func move(m string, from, to vrrp.State) step {
	return step{member: m, from: from, to: to}
}
func want(m string) step                 { return step{member: m, wants: true} }
func (s step) gives(cmds ...string) step { s.want = cmds; return s }
func (s step) enters(state string) step  { s.group = state; return s }

func show(cmds []Command) []string {
	var out []string
	for _, c := range cmds {
		switch e := c.Event.(type) {
		case vrrp.FaultChanged:
			sign := "-"
			if e.Active {
				sign = "+"
			}
			out = append(out, c.Member+":fault"+sign)
		case vrrp.Resign:
			out = append(out, c.Member+":resign")
		case vrrp.Hold:
			sign := "-"
			if e.Active {
				sign = "+"
			}
			out = append(out, c.Member+":hold"+sign)
		default:
			out = append(out, fmt.Sprintf("%s:%T", c.Member, e))
		}
	}
	return out
}

func TestCoordinator(t *testing.T) {
	I, B, M, F := vrrp.Init, vrrp.Backup, vrrp.Master, vrrp.Fault
	tests := []struct {
		name  string
		steps []step
	}{
		{"start: held until both want master, then master together", []step{
			move("VI_1", I, B).gives("VI_2:hold+"),
			move("VI_2", I, B).gives("VI_1:hold+").enters("BACKUP"),
			want("VI_1").gives("VI_2:hold-"),
			want("VI_2").gives("VI_1:hold-"),
			move("VI_1", B, M), move("VI_2", B, M).enters("MASTER"),
		}},
		{"a member's own fault takes the group to FAULT until it clears", []step{
			move("VI_1", I, B).gives("VI_2:hold+"), move("VI_2", I, B).gives("VI_1:hold+").enters("BACKUP"),
			want("VI_1").gives("VI_2:hold-"), want("VI_2").gives("VI_1:hold-"),
			move("VI_1", B, M), move("VI_2", B, M).enters("MASTER"),
			raiseFault("VI_2").gives("VI_1:fault+", "VI_2:fault+"),
			move("VI_2", M, F).enters("FAULT"), move("VI_1", M, F),
			raiseFault("VI_1").gives(), // a second own fault changes nothing
			clearFault("VI_2").gives(), // VI_1 still has one
			clearFault("VI_1").gives("VI_1:fault-", "VI_2:fault-"),
			move("VI_1", F, B).gives("VI_2:hold+"), move("VI_2", F, B).gives("VI_1:hold+").enters("BACKUP"),
		}},
		{"one master stepping down takes the others with it, once, and holds them", []step{
			move("VI_1", I, B).gives("VI_2:hold+", "VI_3:hold+"),
			move("VI_2", I, B).gives("VI_1:hold+"),
			move("VI_3", I, B).enters("BACKUP"),
			want("VI_1"), want("VI_2").gives("VI_3:hold-"), want("VI_3").gives("VI_1:hold-", "VI_2:hold-"),
			move("VI_1", B, M), move("VI_2", B, M), move("VI_3", B, M).enters("MASTER"),
			// VI_2 hears a stronger master: the others resign and wait.
			move("VI_2", M, B).gives("VI_1:resign", "VI_3:resign", "VI_1:hold+", "VI_3:hold+").enters("BACKUP"),
			move("VI_1", M, B).gives("VI_2:hold+"), // told to: no cascade
			move("VI_3", M, B),
			// The other node's VI_1 and VI_3 are weaker: ours want master,
			// but VI_2 still follows a master, so they are held.
			want("VI_1"), want("VI_3").gives("VI_2:hold-"),
		}},
		{"weights inside a group: a member falling behind keeps the others back", []step{
			move("VI_1", I, B).gives("VI_2:hold+"), move("VI_2", I, B).gives("VI_1:hold+").enters("BACKUP"),
			want("VI_1").gives("VI_2:hold-"), want("VI_2").gives("VI_1:hold-"),
			move("VI_1", B, M), move("VI_2", B, M).enters("MASTER"),
			move("VI_1", M, B).gives("VI_2:resign", "VI_2:hold+").enters("BACKUP"),
			move("VI_2", M, B).gives("VI_1:hold+"),
			want("VI_2").gives("VI_1:hold-"), // VI_2 stays held: VI_1 follows the other node
			want("VI_1").gives("VI_2:hold-"), // VI_1's check recovered: together again
			move("VI_1", B, M), move("VI_2", B, M).enters("MASTER"),
		}},
		{"stopping", []step{
			move("VI_1", I, B).gives("VI_2:hold+"), move("VI_2", I, B).gives("VI_1:hold+").enters("BACKUP"),
			move("VI_1", B, I).gives("VI_2:hold-"), move("VI_2", B, I).gives("VI_1:hold-").enters("STOP"),
		}},
		{"members of no group are left alone", []step{
			move("other", I, M).gives(),
			raiseFault("other").gives(),
			want("other").gives(),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New([]Spec{{Name: "G1", Members: []string{"VI_1", "VI_2", "VI_3"}}})
			if !strings.HasPrefix(tc.name, "one master stepping down") {
				c = New([]Spec{{Name: "G1", Members: []string{"VI_1", "VI_2"}}})
			}
			for i, s := range tc.steps {
				var cmds []Command
				var ch *Change
				switch {
				case s.wants:
					cmds = c.Want(s.member, true)
				case s.fault != nil:
					cmds = c.OwnFault(s.member, "link eth1 down"+s.member, *s.fault)
				default:
					cmds, ch = c.Transition(s.member, s.from, s.to)
				}
				if got := show(cmds); !reflect.DeepEqual(got, s.want) && !(len(got) == 0 && len(s.want) == 0) {
					t.Errorf("step %d (%s): commands %v, want %v", i, s.member, got, s.want)
				}
				got := ""
				if ch != nil {
					got = ch.State
					if ch.Group != "G1" {
						t.Errorf("step %d: change of group %q", i, ch.Group)
					}
				}
				if got != s.group {
					t.Errorf("step %d (%s): group state %q, want %q", i, s.member, got, s.group)
				}
			}
		})
	}
	c := New([]Spec{{Name: "G1", Members: []string{"VI_1"}}})
	if c.GroupOf("VI_1") != "G1" || c.GroupOf("x") != "" || !reflect.DeepEqual(c.Members("G1"), []string{"VI_1"}) {
		t.Error("GroupOf / Members")
	}
}

// TestRejoin: a member rebuilt while its group is in FAULT, or held, is
// told so; in a quiet group it is told nothing.
func TestRejoin(t *testing.T) {
	c := New([]Spec{{Name: "G", Members: []string{"A", "B"}}})
	if cmds := c.Rejoin("A"); len(cmds) != 0 {
		t.Fatalf("quiet group: %+v", cmds)
	}
	c.OwnFault("B", "link eth1 down", true)
	cmds := c.Rejoin("A")
	if len(cmds) != 1 || cmds[0].Member != "A" {
		t.Fatalf("faulted group: %+v", cmds)
	}
	if f, ok := cmds[0].Event.(vrrp.FaultChanged); !ok || !f.Active || f.Reason != FaultReason("G") {
		t.Fatalf("faulted group: %+v", cmds[0].Event)
	}
	if cmds := c.Rejoin("nobody"); cmds != nil {
		t.Fatalf("not a member: %+v", cmds)
	}
}
