package vrrp

import (
	"reflect"
	"testing"
	"time"
)

// TestResign: a master told to resign (its sync group went backup) steps
// down at once, advertising priority 0 and removing its addresses, then
// waits a Master_Down_Interval as backup; anywhere else it does nothing.
func TestResign(t *testing.T) {
	in := newInstance(t, cfg(nil))
	in.Handle(t0, Start{})
	if got := kinds(in.Handle(t0, Resign{Reason: "group"})); got != nil {
		t.Fatalf("backup resigning: %v, want nothing", got)
	}
	now := t0.Add(in.MasterDownInterval())
	if got := kinds(in.Handle(now, Tick{})); !reflect.DeepEqual(got, []string{"->MASTER", "add", "advert:100", "garp"}) {
		t.Fatalf("becoming master: %v", got)
	}
	got := kinds(in.Handle(now, Resign{Reason: "sync group G1: VI_2 became backup"}))
	if want := []string{"->BACKUP", "advert:0", "remove"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("resigning: %v, want %v", got, want)
	}
	if in.State() != Backup {
		t.Fatalf("state %v after resigning", in.State())
	}
	// It stays backup for a whole Master_Down_Interval.
	if got := kinds(in.Handle(now.Add(in.MasterDownInterval()-time.Millisecond), Tick{})); got != nil {
		t.Fatalf("before Master_Down_Interval: %v", got)
	}
	if got := kinds(in.Handle(now.Add(in.MasterDownInterval()), Tick{})); len(got) == 0 || got[0] != "->MASTER" {
		t.Fatalf("after Master_Down_Interval: %v", got)
	}
}
