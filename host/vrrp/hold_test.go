package vrrp

import (
	"reflect"
	"testing"
)

// TestHold: a held backup whose master is down stays backup and says it
// wants to be master, once; released, it becomes master at once. Hearing
// a master again withdraws the wish; released then, it stays backup.
func TestHold(t *testing.T) {
	in := newInstance(t, cfg(nil))
	in.Handle(t0, Hold{Reason: "group", Active: true})
	in.Handle(t0, Start{})
	mdi := in.MasterDownInterval()
	if got := in.Handle(t0.Add(mdi), Tick{}); !reflect.DeepEqual(got, []Action{WantMaster{Want: true}}) {
		t.Fatalf("held at Master_Down_Interval: %v", got)
	}
	if in.State() != Backup {
		t.Fatalf("state %v while held", in.State())
	}
	if got := in.Handle(t0.Add(2*mdi), Tick{}); len(got) != 0 {
		t.Fatalf("held, second expiry: %v, want nothing new", got)
	}
	if got := kinds(in.Handle(t0.Add(2*mdi), Hold{Reason: "group"})); !reflect.DeepEqual(got, []string{"->MASTER", "add", "advert:100", "garp"}) {
		t.Fatalf("released: %v", got)
	}

	// Withdrawn when a master is heard again.
	in = newInstance(t, cfg(nil))
	in.Handle(t0, Hold{Reason: "group", Active: true})
	in.Handle(t0, Start{})
	in.Handle(t0.Add(mdi), Tick{})
	got := in.Handle(t0.Add(mdi), AdvertReceived{From: addrB, Priority: 200, Interval: in.cfg.AdvertInterval})
	if !reflect.DeepEqual(got, []Action{WantMaster{Want: false}}) {
		t.Fatalf("master heard: %v", got)
	}
	if got := in.Handle(t0.Add(mdi), Hold{Reason: "group"}); len(got) != 0 {
		t.Fatalf("released without wanting: %v", got)
	}
	if in.State() != Backup {
		t.Fatalf("state %v", in.State())
	}
}
