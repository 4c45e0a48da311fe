package daemon

import (
	"net/netip"

	"github.com/hasidecar/hasidecar/host/bgp"
	"github.com/hasidecar/hasidecar/host/vrrp"
)

// vrrpAnnouncer is a vrrp_instance with announce = "bgp", as the BGP
// decision sees it.
type vrrpAnnouncer struct {
	state     vrrp.State
	vips      []netip.Prefix
	backupMED uint32 // 0: a backup withdraws
	// fit: every check the instance tracks passes. A backup whose nginx
	// is down must not be the fabric's fallback.
	fit bool
}

// anycastAnnouncer is a bgp_announce block and the health of its checks.
type anycastAnnouncer struct {
	prefixes []netip.Prefix
	healthy  bool // every tracked check passes
}

// desiredRoutes decides what the node announces: a master's VIPs as host
// routes, a backup's with its backup MED where one is set and its checks
// pass, and each bgp_announce's prefixes while its checks pass. Where two sources name
// one prefix, the better (lower) MED wins.
func desiredRoutes(instances []vrrpAnnouncer, anycast []anycastAnnouncer) map[netip.Prefix]bgp.Route {
	out := map[netip.Prefix]bgp.Route{}
	add := func(p netip.Prefix, med uint32) {
		if old, ok := out[p]; ok && old.MED <= med {
			return
		}
		out[p] = bgp.Route{Prefix: p, MED: med}
	}
	for _, in := range instances {
		var med uint32
		switch {
		case in.state == vrrp.Master:
			med = 0
		case in.state == vrrp.Backup && in.backupMED > 0 && in.fit:
			med = in.backupMED
		default:
			continue
		}
		for _, v := range in.vips {
			if v.Addr().IsLinkLocalUnicast() {
				continue // meaningless beyond the link: never a route
			}
			add(hostRoute(v), med)
		}
	}
	for _, a := range anycast {
		if !a.healthy {
			continue
		}
		for _, p := range a.prefixes {
			add(p, 0)
		}
	}
	return out
}

// hostRoute is the /32 or /128 of a VIP configured with its subnet's length.
func hostRoute(p netip.Prefix) netip.Prefix {
	return netip.PrefixFrom(p.Addr(), p.Addr().BitLen())
}
