package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// clusterMember is one node's instance of a virtual router.
type clusterMember struct {
	node string
	file int // index in CheckCluster's configurations
	in   Instance
}

// clusterGroup is the instances of several files that are one virtual
// router; where names it in diagnostics.
type clusterGroup struct {
	where   string
	members []clusterMember
}

// distinctFiles drops a file given twice (an error: it would be compared
// with itself) and warns about files that share a node_name.
func distinctFiles(cfgs []*Config) ([]*Config, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var out []*Config
	seen := map[string]bool{}
	for _, c := range cfgs {
		if c.Path != "" {
			p := filepath.Clean(c.Path)
			if seen[p] {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError,
					Summary: fmt.Sprintf("%s is given twice", c.Path),
					Detail:  "give each node's file once"})
				continue
			}
			seen[p] = true
		}
		out = append(out, c)
	}
	byName := map[string][]string{}
	var order []string
	for _, c := range out {
		if c.NodeName == "" {
			continue
		}
		if _, ok := byName[c.NodeName]; !ok {
			order = append(order, c.NodeName)
		}
		byName[c.NodeName] = append(byName[c.NodeName], filepath.Base(c.Path))
	}
	for _, n := range order {
		if files := byName[n]; len(files) > 1 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning,
				Summary: fmt.Sprintf("%s and %s share node_name %q", strings.Join(files[:len(files)-1], ", "), files[len(files)-1], n),
				Detail:  "node_name tells the nodes apart in status, logs and these diagnostics (it defaults to the host name); give each node its own"})
		}
	}
	return out, diags
}

// matchInstances groups the files' instances into virtual routers: by VRID
// and address family, whatever each node calls the interface (eth0 on one,
// ens3 on another). Only when a file has the VRID on more than one
// interface (separate segments) are they told apart by interface name.
func matchInstances(cfgs []*Config, names []string) []clusterGroup {
	type vkey struct {
		vrid   uint8
		family int // an IPv4 and an IPv6 instance may share a VRID
	}
	byV := map[vkey][]clusterMember{}
	var order []vkey
	for i, cfg := range cfgs {
		for _, in := range cfg.Instances {
			k := vkey{in.VRID, familyOf(in.VirtualIPs)}
			if _, ok := byV[k]; !ok {
				order = append(order, k)
			}
			byV[k] = append(byV[k], clusterMember{names[i], i, in})
		}
	}
	var groups []clusterGroup
	for _, k := range order {
		ms := byV[k]
		perFile := map[int]int{}
		split := false
		for _, m := range ms {
			perFile[m.file]++
			split = split || perFile[m.file] > 1
		}
		var parts [][]clusterMember
		if split {
			// By interface name, else by a shared address with another
			// file's instance that has no partner from this file yet.
			for _, m := range ms {
				at := -1
				for i, p := range parts {
					if p[0].in.Interface == m.in.Interface && !slices.ContainsFunc(p, func(o clusterMember) bool { return o.file == m.file }) {
						at = i
						break
					}
				}
				for i, p := range parts {
					if at < 0 && !slices.ContainsFunc(p, func(o clusterMember) bool { return o.file == m.file || !sharedVIP(o.in, m.in).IsValid() }) {
						at = i
					}
				}
				if at < 0 {
					at = len(parts)
					parts = append(parts, nil)
				}
				parts[at] = append(parts[at], m)
			}
		} else {
			parts = [][]clusterMember{ms}
		}
		for _, p := range parts {
			var ifaces []string
			for _, m := range p {
				if !slices.Contains(ifaces, m.in.Interface) {
					ifaces = append(ifaces, m.in.Interface)
				}
			}
			where := fmt.Sprintf("VRID %d on %s", k.vrid, strings.Join(ifaces, "/"))
			if k.family == 6 {
				where += " (IPv6)"
			}
			groups = append(groups, clusterGroup{where, p})
		}
	}
	return groups
}

// loneDetail says why an instance no other file matches is alone: the same
// VRID on another interface name, a shared virtual address under another
// VRID (reported as an error by sharedVIPs), or nothing like it at all.
// It returns "" when the instance is matched by a shared address.
func loneDetail(cfgs []*Config, names []string, m clusterMember) string {
	if slices.ContainsFunc(sharingVIPs(cfgs, m), func(in Instance) bool { return in.VRID != m.in.VRID }) {
		return ""
	}
	var others []string
	for i, cfg := range cfgs {
		if i == m.file {
			continue
		}
		for _, in := range cfg.Instances {
			same := func(o Instance) bool {
				return o.VRID == in.VRID && o.Interface == in.Interface && familyOf(o.VirtualIPs) == familyOf(in.VirtualIPs)
			}
			// An interface this file has too is matched by name.
			if in.VRID == m.in.VRID && familyOf(in.VirtualIPs) == familyOf(m.in.VirtualIPs) && !slices.ContainsFunc(cfgs[m.file].Instances, same) {
				others = append(others, fmt.Sprintf("%s has VRID %d on %s", names[i], in.VRID, in.Interface))
			}
		}
	}
	if len(others) > 0 {
		return strings.Join(others, ", ") + ", but where a file has the VRID on several interfaces they are matched by interface name or a shared virtual address; use the same interface names, or check virtual_router_id and virtual_ips"
	}
	return "no other node backs it up; give the other nodes the same vrrp_instance, or check interface and virtual_router_id"
}

// sharingVIPs returns the other files' instances that hold one of m's
// virtual addresses.
func sharingVIPs(cfgs []*Config, m clusterMember) []Instance {
	var out []Instance
	for i, cfg := range cfgs {
		if i == m.file {
			continue
		}
		for _, in := range cfg.Instances {
			if sharedVIP(m.in, in).IsValid() {
				out = append(out, in)
			}
		}
	}
	return out
}

// sharedVIPs reports instances in different files that hold the same
// virtual address under different VRIDs: two virtual routers, each with a
// master that owns the address.
func sharedVIPs(cfgs []*Config, names []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i, a := range cfgs {
		for _, ia := range a.Instances {
			for j := i + 1; j < len(cfgs); j++ {
				for _, ib := range cfgs[j].Instances {
					addr := sharedVIP(ia, ib)
					if !addr.IsValid() || ia.VRID == ib.VRID {
						continue
					}
					r := ib.DeclRange
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Subject: &r,
						Summary: fmt.Sprintf("%s is a virtual address of VRID %d in %s (%s, %s:%d) but of VRID %d in %s (%s, %s:%d)",
							addr, ia.VRID, names[i], ia.Name, ia.DeclRange.Filename, ia.DeclRange.Start.Line,
							ib.VRID, names[j], ib.Name, ib.DeclRange.Filename, ib.DeclRange.Start.Line),
						Detail: "two virtual routers would each have a master owning the address; give every node the same virtual_router_id for it"})
				}
			}
		}
	}
	return diags
}

// sharedVIP returns an address both instances hold, or the zero Addr.
func sharedVIP(a, b Instance) (addr netip.Addr) {
	for _, pa := range a.VirtualIPs {
		for _, pb := range b.VirtualIPs {
			if pa.Addr() == pb.Addr() {
				return pa.Addr()
			}
		}
	}
	return addr
}
