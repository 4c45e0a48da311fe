package config

import "fmt"

// vmacName is the name of in's macvlan (vmac.Name's default, or its
// vmac_interface), or "" without use_vmac.
func vmacName(in Instance) string {
	switch {
	case !in.UseVMAC:
		return ""
	case in.VMACInterface != "":
		return in.VMACInterface
	case familyOf(in.VirtualIPs) == 6:
		return fmt.Sprintf("vrrp6.%d", in.VRID)
	}
	return fmt.Sprintf("vrrp.%d", in.VRID)
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
		name := vmacName(in)
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
