package daemon

import (
	"maps"
	"slices"

	"github.com/hasidecar/hasidecar/host/checkspec"
	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/health"
	"github.com/hasidecar/hasidecar/host/instance"
	"github.com/hasidecar/hasidecar/host/vrrp"
)

// What a reload will do, decided from what runs and the new file alone:
// no socket, plugin or clock. Reload (reload.go) carries the plan out.

// instanceKey identifies a virtual router across reloads.
type instanceKey struct {
	iface string
	vrid  uint8
	ipv6  bool // an IPv4 and an IPv6 instance may share a VRID
}

func keyOf(ic config.Instance) instanceKey { return instanceKey{ic.Interface, ic.VRID, isIPv6(ic)} }

// runningInstance is what the plan needs to know of a running instance.
type runningInstance struct {
	ic       config.Instance
	noSource bool // held in FAULT without a socket (nosource.go)
}

// reloadPlan says what a reload changes.
type reloadPlan struct {
	// kept are running instances that follow the new file in place,
	// keeping their state, in the new file's order.
	kept []keptInstance
	// started are the instances to open and start, in the new file's
	// order: new ones, and replacements of running ones.
	started []startedInstance
	// stopped are the running instances that resign (removed, or
	// replaced), as indices into the running list, in its order.
	stopped []int
	checks  checkPlan
	// static lists the settings a reload cannot change that changed: they
	// take effect at the next restart, with a warning now.
	static []string
	// advertised names the running instances whose advertised addresses
	// change (reloadwarn.go): a pair disagrees until every node reloads.
	advertised []string
}

// keptInstance is a running instance (running[from]) and its new settings.
type keptInstance struct {
	from int
	ic   config.Instance
}

// startedInstance is an instance to start: new (replaces -1) or replacing
// running[replaces], for the reason why.
type startedInstance struct {
	ic       config.Instance
	replaces int
	why      string
}

// planReload compares what runs with the new file. Instances are matched
// by interface, VRID and family; a match is kept unless replaceReason
// says otherwise.
func planReload(running []runningInstance, oldChecks []health.CheckSpec, old, next *config.Config, resolved []checkspec.Resolved) reloadPlan {
	byKey := map[instanceKey]int{}
	for i, r := range running {
		byKey[keyOf(r.ic)] = i
	}
	var p reloadPlan
	reused := map[int]bool{}
	for _, ic := range next.Instances {
		i, ok := byKey[keyOf(ic)]
		if !ok {
			p.started = append(p.started, startedInstance{ic: ic, replaces: -1})
			continue
		}
		if why := replaceReason(running[i], ic); why != "" {
			p.started = append(p.started, startedInstance{ic: ic, replaces: i, why: why})
			continue
		}
		p.kept = append(p.kept, keptInstance{from: i, ic: ic})
		reused[i] = true
	}
	for i := range running {
		if !reused[i] {
			p.stopped = append(p.stopped, i)
		}
	}
	p.checks = planChecks(oldChecks, resolved)
	p.static = staticChanges(old, next)
	p.advertised = advertisedChanges(running, p)
	return p
}

// replaceReason says why a running instance cannot follow its new
// settings in place and must be replaced, or "" when it can.
func replaceReason(prev runningInstance, next config.Instance) string {
	a, b := prev.ic, next
	switch {
	case prev.noSource:
		return "it had no socket; opening one again"
	case a.Version != b.Version:
		return "version changed"
	case (len(a.UnicastPeers) == 0) != (len(b.UnicastPeers) == 0):
		return "unicast mode changed"
	case (a.Priority == vrrp.OwnerPriority) != (b.Priority == vrrp.OwnerPriority):
		return "address ownership changed"
	case a.UnicastSource != b.UnicastSource:
		return "unicast_source changed"
	case a.UseVMAC != b.UseVMAC:
		return "use_vmac changed"
	case a.VMACXmitBase != b.VMACXmitBase:
		return "vmac_xmit_base changed"
	case a.VMACInterface != b.VMACInterface:
		return "vmac_interface changed"
	case isIPv6(a) != isIPv6(b):
		return "address family changed"
	case instance.NeedsReplacing(spec(a), spec(b)):
		return "interface or VRID changed" // matched by both: cannot happen
	}
	return ""
}

// checkPlan says what happens to the checks.
type checkPlan struct {
	// configure are the checks a plugin must be handed, new or with
	// another plugin or configuration, in the new file's order.
	configure []checkStep
	// forget are the checks that went, for their plugins to forget,
	// sorted by name.
	forget []checkRef
	// By name, for the log and tests: added start unknown; changed
	// restart (carrying their health until their first new result); kept
	// keep running with their health; removed stop.
	added, changed, kept, removed []string
}

// checkStep hands one check to its plugin; a check that moved to another
// plugin is then removed from movedFrom, only once the new one took it.
type checkStep struct {
	check     checkspec.Resolved
	movedFrom string
}

// checkRef names a check and the plugin that serves it.
type checkRef struct{ name, plugin string }

// planChecks compares the running checks with the new file's. old is nil
// at start: every check is added.
func planChecks(old []health.CheckSpec, resolved []checkspec.Resolved) checkPlan {
	prev := map[string]health.CheckSpec{}
	for _, s := range old {
		prev[s.Name] = s
	}
	var p checkPlan
	next := map[string]bool{}
	specs := checkSpecs(resolved)
	for i, c := range resolved {
		next[c.Name] = true
		was, ok := prev[c.Name]
		switch {
		case !ok:
			p.added = append(p.added, c.Name)
		case was == specs[i]:
			p.kept = append(p.kept, c.Name)
		default:
			p.changed = append(p.changed, c.Name)
		}
		if ok && was.Plugin == c.Plugin && was.Config == string(c.JSON) {
			continue // only its schedule changed, or nothing
		}
		step := checkStep{check: c}
		if ok && was.Plugin != c.Plugin {
			step.movedFrom = was.Plugin
		}
		p.configure = append(p.configure, step)
	}
	for _, name := range slices.Sorted(maps.Keys(prev)) {
		if !next[name] {
			p.forget = append(p.forget, checkRef{name, prev[name].Plugin})
			p.removed = append(p.removed, name)
		}
	}
	return p
}

// unusedPlugins returns the running plugins no check uses: they stop.
func unusedPlugins(running []string, resolved []checkspec.Resolved) []string {
	var out []string
	for _, name := range running {
		if !slices.ContainsFunc(resolved, func(c checkspec.Resolved) bool { return c.Plugin == name }) {
			out = append(out, name)
		}
	}
	return out
}

// staticChanges lists the settings read once at start that next changes.
func staticChanges(old, next *config.Config) []string {
	var out []string
	if old.Control != next.Control {
		out = append(out, "control socket")
	}
	if (old.Metrics == nil) != (next.Metrics == nil) || (old.Metrics != nil && *old.Metrics != *next.Metrics) {
		out = append(out, "metrics listen address")
	}
	if old.PluginDir != next.PluginDir || !maps.Equal(old.PluginPins, next.PluginPins) {
		out = append(out, "plugin_dir or plugin pins")
	}
	if old.LogLevel != next.LogLevel || old.LogFormat != next.LogFormat {
		out = append(out, "log_level or log_format")
	}
	if groupsChanged(old, next) {
		out = append(out, "a sync_group")
	}
	return out
}
