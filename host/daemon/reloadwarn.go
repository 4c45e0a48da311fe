package daemon

import (
	"maps"
	"net/netip"
	"slices"

	"github.com/hasidecar/hasidecar/host/config"
)

// advertisedChanges names the instances that run before and after the
// reload (kept or replaced) and advertise another set of addresses after
// it. Peers drop adverts whose address list differs from theirs (RFC 5798
// section 7.1, as keepalived 2.2.7 does), so until every node has the
// same list each takes the other for silent and both may become master.
// A new instance is not named: no peer advertises it yet.
func advertisedChanges(running []runningInstance, p reloadPlan) []string {
	var out []string
	for _, k := range p.kept {
		if !sameAdvertised(running[k.from].ic, k.ic) {
			out = append(out, k.ic.Name)
		}
	}
	for _, s := range p.started {
		if s.replaces >= 0 && !sameAdvertised(running[s.replaces].ic, s.ic) {
			out = append(out, s.ic.Name)
		}
	}
	return out
}

// sameAdvertised reports whether a and b advertise the same addresses, in
// any order and whatever their prefix lengths (adverts carry addresses
// only; excluded_ips are never advertised).
func sameAdvertised(a, b config.Instance) bool {
	set := func(ps []netip.Prefix) []netip.Addr {
		m := map[netip.Addr]bool{}
		for _, p := range ps {
			m[p.Addr()] = true
		}
		return slices.SortedFunc(maps.Keys(m), netip.Addr.Compare)
	}
	return slices.Equal(set(a.VirtualIPs), set(b.VirtualIPs))
}

// warnings are what the operator must hear of a reload that went through:
// what needs the other nodes, and what needs a restart. The control
// socket's reply carries them to `hasidecar reload`; the log has them too.
func (p reloadPlan) warnings() []string {
	var out []string
	for _, name := range p.advertised {
		out = append(out, "instance "+name+": virtual_ips changed; until every node advertises the same list each drops the others' adverts and both may become master: reload the other nodes now (or add addresses as excluded_ips, which are not advertised)")
	}
	for _, what := range p.static {
		out = append(out, what+" changed; it takes effect at the next restart")
	}
	return out
}
