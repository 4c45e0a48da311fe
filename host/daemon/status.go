package daemon

import (
	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/health"
	"github.com/hasidecar/hasidecar/host/status"
)

// Status implements control.Handler.
func (d *Daemon) Status() status.Status {
	d.mu.Lock()
	node, path := d.cfg.NodeName, d.cfg.Path
	d.mu.Unlock()
	st := status.Status{NodeName: node, ConfigPath: path, Instances: []status.InstanceStatus{}, Checks: []status.CheckStatus{}}
	for _, t := range d.current() {
		is := t.Status()
		base, checks, _, _ := d.view(t)
		if d.health != nil && len(checks) > 0 {
			_, _, moved := health.Effective(base, checks, d.health.Healthy)
			for _, m := range moved {
				is.Tracks = append(is.Tracks, status.TrackStatus{Check: m.Check, Weight: m.Weight,
					Healthy: m.Healthy, Applied: m.Applied, Fault: m.Fault})
			}
		}
		st.Instances = append(st.Instances, is)
		d.mu.Lock()
		ic := t.ic
		d.mu.Unlock()
		st.Warnings = append(st.Warnings, config.WeightWarnings(ic, is.MasterAddress, is.MasterPriority)...)
	}
	if d.health != nil {
		st.Checks = d.health.Status()
	}
	d.maintenanceStatus(&st)
	st.BGP = d.bgpStatus()
	st.Sockets = d.sockets.status()
	return st
}

// PluginRestarts implements metrics.Source.
func (d *Daemon) PluginRestarts() map[string]int {
	out := map[string]int{}
	d.mu.Lock()
	checks := d.cfg.Checks
	d.mu.Unlock()
	for _, c := range checks {
		out[c.Plugin] = d.plugins.Restarts(c.Plugin)
	}
	return out
}

// CheckFailures implements metrics.Source.
func (d *Daemon) CheckFailures() map[string]uint64 {
	if d.health == nil {
		return nil
	}
	return d.health.Failures()
}
