package vrrp

import (
	"testing"
	"time"
)

func TestMaintenance(t *testing.T) {
	ms := time.Millisecond
	on := MaintenanceChanged{Active: true, Reason: "kernel update"}
	off := MaintenanceChanged{}
	becomeMaster := []string{"->MASTER", "add", "advert:100", "garp"}
	fast := func(c *Config) { c.LowerPriorityIsResignation = true }
	tests := []struct {
		name  string
		mod   func(*Config)
		steps []step
	}{
		{"a master hands over: advertises 1, keeps the addresses until it hears the new master", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
			{4000 * ms, on, []string{"advert:1"}, Master},
			{4500 * ms, Tick{}, nil, Master},
			{5000 * ms, Tick{}, []string{"advert:1"}, Master}, // still answering, still advertising 1
			{5100 * ms, advert(addrB, 50, time.Second), []string{"->BACKUP", "remove", "advert:1"}, Backup},
			// Out of the election: the new master may go silent, we stay.
			{60000 * ms, Tick{}, nil, Backup},
			{61000 * ms, advert(addrB, 0, time.Second), nil, Backup},
			{70000 * ms, Tick{}, nil, Backup},
		}},
		{"a master with no backup keeps serving in maintenance", nil, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3610 * ms, Tick{}, becomeMaster, Master},
			{4000 * ms, on, []string{"advert:1"}, Master},
			{5000 * ms, Tick{}, []string{"advert:1"}, Master},
			{5500 * ms, off, []string{"advert:100"}, Master},
		}},
		{"a backup in maintenance never takes over", nil, []step{
			{0, on, nil, Init},
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{3610 * ms, Tick{}, nil, Backup},
			{100000 * ms, Tick{}, nil, Backup},
		}},
		{"off: a backup rejoins and preempts a lower master (fast_preempt)", fast, []step{
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{100 * ms, on, nil, Backup},
			{200 * ms, advert(addrB, 50, time.Second), nil, Backup},
			{10000 * ms, Tick{}, nil, Backup},
			{10100 * ms, off, nil, Backup},
			// The master's next advert is below us: take over after Skew_Time.
			{10200 * ms, advert(addrB, 50, time.Second), nil, Backup},
			{10200*ms + 609375*time.Microsecond, Tick{}, becomeMaster, Master},
		}},
		{"off with a silent segment: a backup takes over after Master_Down_Interval", nil, []step{
			{0, on, nil, Init},
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{5000 * ms, off, nil, Backup},
			{8609 * ms, Tick{}, nil, Backup},
			{8610 * ms, Tick{}, becomeMaster, Master},
		}},
		{"the address owner in maintenance does not take the addresses at start", func(c *Config) { c.Priority = OwnerPriority }, []step{
			{0, on, nil, Init},
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{10000 * ms, Tick{}, nil, Backup},
		}},
		{"a fault during maintenance: cleared, the instance stays out", nil, []step{
			{0, on, nil, Init},
			{0, Start{}, []string{"->BACKUP"}, Backup},
			{100 * ms, FaultChanged{Reason: "link eth0 down", Active: true}, []string{"->FAULT"}, Fault},
			{200 * ms, FaultChanged{Reason: "link eth0 down"}, []string{"->BACKUP"}, Backup},
			{100000 * ms, Tick{}, nil, Backup},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, newInstance(t, cfg(tt.mod)), tt.steps)
		})
	}
}

func TestMaintenanceStatus(t *testing.T) {
	in := newInstance(t, cfg(nil))
	in.Handle(t0, MaintenanceChanged{Active: true, Reason: "swap disk"})
	if m, why := in.InMaintenance(); !m || why != "swap disk" || in.EffectivePriority() != MaintenancePriority {
		t.Fatalf("in maintenance: %v %q priority %d", m, why, in.EffectivePriority())
	}
	in.Handle(t0, MaintenanceChanged{})
	if m, why := in.InMaintenance(); m || why != "" || in.EffectivePriority() != 100 {
		t.Fatalf("after off: %v %q priority %d", m, why, in.EffectivePriority())
	}
}
