package instance

import "net/netip"

// held is every address the instance holds while master: its virtual IPs
// and its excluded ones (added and removed with them, never advertised).
func held(spec Spec) []netip.Prefix {
	if len(spec.ExcludedIPs) == 0 {
		return spec.VirtualIPs
	}
	return append(spec.VirtualIPs[:len(spec.VirtualIPs):len(spec.VirtualIPs)], spec.ExcludedIPs...)
}

// announced returns the addresses announced on becoming master: keepalived
// sends gratuitous ARP and neighbour advertisements for the excluded ones
// too.
func (r *Runner) announced() []netip.Addr {
	if len(r.spec.ExcludedIPs) == 0 {
		return r.vips
	}
	out := append(r.vips[:len(r.vips):len(r.vips)], make([]netip.Addr, 0, len(r.spec.ExcludedIPs))...)
	for _, p := range r.spec.ExcludedIPs {
		out = append(out, p.Addr())
	}
	return out
}
