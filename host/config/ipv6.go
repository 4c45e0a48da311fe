package config

import (
	"fmt"
	"net/netip"

	"github.com/hashicorp/hcl/v2"
)

// familyOf is 4 or 6 for an instance's VIPs (one family each), 0 when
// there are none.
func familyOf(vips []netip.Prefix) int {
	if len(vips) == 0 {
		return 0
	}
	if vips[0].Addr().Is4() {
		return 4
	}
	return 6
}

// checkIPv6Version rejects version = 2 on an IPv6 instance: RFC 3768 is
// IPv4 only, and keepalived refuses it too.
func (d *decoder) checkIPv6Version(a *hcl.Attribute, in Instance) {
	if in.Version == 2 && familyOf(in.VirtualIPs) == 6 {
		d.valueError(a, "version = 2 cannot carry IPv6 virtual_ips",
			"VRRPv2 (RFC 3768) is IPv4 only; remove the line (VRRPv3 is the default) or set version = 3")
	}
}

// extraIPv6 decodes what the second round added to an instance:
// excluded_ips, use_vmac, vmac_interface and vmac_xmit_base, and warns when an IPv6 instance's first VIP is
// not link-local.
func (d *decoder) extraIPv6(attrs hcl.Attributes, in *Instance) {
	if a, ok := attrs["use_vmac"]; ok {
		if b, ok := d.boolean(a); ok {
			in.UseVMAC = b
		}
	}
	if a, ok := attrs["vmac_interface"]; ok {
		if s, ok := d.str(a, `"vip51"`); ok {
			switch reason := badInterfaceName(s); {
			case reason != "":
				d.valueError(a, d.shown(a)+" is not an interface name", reason)
			case !in.UseVMAC:
				d.valueError(a, "vmac_interface without use_vmac", "it names the macvlan use_vmac = true makes; add use_vmac = true or remove the line")
			case s == in.Interface:
				d.valueError(a, d.shown(a)+" is the instance's own interface", "the macvlan needs a name of its own, e.g. \"vip51\"")
			default:
				in.VMACInterface = s
			}
		}
	}
	if a, ok := attrs["vmac_xmit_base"]; ok {
		if b, ok := d.boolean(a); ok {
			in.VMACXmitBase = b
			if b && !in.UseVMAC {
				d.valueError(a, "vmac_xmit_base = true without use_vmac",
					"it moves adverts from the macvlan back to the base interface, so it needs use_vmac = true (keepalived ignores it without use_vmac)")
			}
		}
	}
	if a, ok := attrs["excluded_ips"]; ok {
		in.ExcludedIPs = d.excludedIPs(a, in.VirtualIPs)
	}
	if familyOf(in.VirtualIPs) == 6 && !in.VirtualIPs[0].Addr().IsLinkLocalUnicast() {
		d.valueWarning(attrs["virtual_ips"], fmt.Sprintf("the first IPv6 virtual IP %s is not link-local", in.VirtualIPs[0].Addr()),
			"RFC 5798 (5.2.9) wants the first address of an IPv6 advertisement to be a link-local one; "+
				"keepalived only warns as well, and both work without it. To follow the RFC, put a fe80:: address first on every node at once: "+
				"the list is in every advert, and nodes whose lists differ drop each other's adverts (README: changing virtual_ips on a live pair).")
	}
}

// excludedIPs decodes keepalived's virtual_ipaddress_excluded: addresses of
// either family held with the VIPs but never advertised.
func (d *decoder) excludedIPs(a *hcl.Attribute, vips []netip.Prefix) []netip.Prefix {
	items, ok := d.stringList(a, `["198.51.100.10/24"]`)
	if !ok {
		return nil
	}
	if len(items) > maxVirtualIPs {
		d.valueError(a, fmt.Sprintf("excluded_ips lists %d addresses", len(items)), "hold at most 255; split them across instances")
	}
	seen := map[netip.Addr]string{}
	for _, p := range vips {
		seen[p.Addr()] = "a virtual IP"
	}
	var out []netip.Prefix
	for _, it := range items {
		p, ok := d.parseVirtualIP(it)
		if !ok {
			continue
		}
		if first, dup := seen[p.Addr()]; dup {
			d.errorAt(it.expr.Range(), a.Range.Ptr(),
				fmt.Sprintf("%s = %q repeats %s", it.name, it.value, first),
				"list each address once, in virtual_ips or in excluded_ips")
			continue
		}
		seen[p.Addr()] = it.name
		out = append(out, p)
	}
	return out
}
