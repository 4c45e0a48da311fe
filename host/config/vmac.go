package config

import "fmt"

// DefaultVMACName is the name of vrid's macvlan without vmac_interface:
// keepalived's vrrp.VRID, and vrrp6.VRID for IPv6.
func DefaultVMACName(vrid uint8, ipv6 bool) string {
	if ipv6 {
		return fmt.Sprintf("vrrp6.%d", vrid)
	}
	return fmt.Sprintf("vrrp.%d", vrid)
}

// VMACName is the name of the instance's macvlan (its vmac_interface, or
// DefaultVMACName), or "" without use_vmac.
func (in Instance) VMACName() string {
	switch {
	case !in.UseVMAC:
		return ""
	case in.VMACInterface != "":
		return in.VMACInterface
	}
	return DefaultVMACName(in.VRID, familyOf(in.VirtualIPs) == 6)
}

// uniqueVMACNames reports two instances whose macvlans would have one name,
// and a macvlan named like an instance's interface: each would take over or
// refuse the other.
func (d *decoder) uniqueVMACNames(instances []Instance) {
	owner := map[string]Instance{}
	for _, in := range instances {
		owner[in.Interface] = in
	}
	seen := map[string]Instance{}
	for _, in := range instances {
		name := in.VMACName()
		if name == "" {
			continue
		}
		if other, ok := owner[name]; ok {
			d.errorAt(in.DeclRange, nil, fmt.Sprintf("vrrp_instance %q would name its macvlan %s, the interface of vrrp_instance %q", in.Name, name, other.Name),
				"give vmac_interface a name no interface has")
			continue
		}
		if first, dup := seen[name]; dup {
			d.errorAt(in.DeclRange, nil, fmt.Sprintf("vrrp_instance %q would name its macvlan %s, as vrrp_instance %q (line %d) does", in.Name, name, first.Name, first.DeclRange.Start.Line),
				"each use_vmac instance needs a macvlan of its own; give vmac_interface different names")
			continue
		}
		seen[name] = in
	}
}
