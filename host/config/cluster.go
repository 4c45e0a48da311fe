package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// CheckCluster checks several nodes' configurations as one cluster. For each
// virtual router (instances matched by VRID and address family, whatever
// each node calls the interface) the nodes must agree on the VIPs, the
// version, the advert interval, the password and (for unicast) list each
// other as peers; their priorities must differ; and every weighted check,
// failing on the node that would be master, must bring its priority below
// every other node's, or the VIPs would not move (the commonest keepalived
// misconfiguration). Each diagnostic points at the line to change.
func CheckCluster(cfgs []*Config) hcl.Diagnostics {
	cfgs, diags := distinctFiles(cfgs)
	names := nodeNames(cfgs)
	add := func(sev hcl.DiagnosticSeverity, at hcl.Range, summary, detail string) {
		r := at
		diags = append(diags, &hcl.Diagnostic{Severity: sev, Subject: &r, Summary: summary, Detail: detail})
	}
	diags = append(diags, sharedVIPs(cfgs, names)...)
	for _, g := range matchInstances(cfgs, names) {
		ms, where := g.members, g.where
		if len(ms) == 1 {
			if detail := loneDetail(cfgs, names, ms[0]); detail != "" {
				add(hcl.DiagWarning, ms[0].in.DeclRange, fmt.Sprintf("%s is only in %s's file", where, ms[0].node), detail)
			}
			continue
		}
		first := ms[0]
		for _, m := range ms[1:] {
			differ := func(what, a, b, fix string) {
				add(hcl.DiagError, m.in.DeclRange,
					fmt.Sprintf("%s: %s has %s %s but %s has %s", where, m.node, what, b, first.node, a), fix)
			}
			if a, b := prefixes(first.in.VirtualIPs), prefixes(m.in.VirtualIPs); a != b {
				differ("virtual_ips", a, b, "every node of a virtual router holds the same addresses; make the lists equal")
			}
			if first.in.Version != m.in.Version {
				differ("version", fmt.Sprint(first.in.Version), fmt.Sprint(m.in.Version),
					"nodes speaking different VRRP versions do not hear each other and both become master; set the same version")
			}
			if first.in.AdvertInterval != m.in.AdvertInterval {
				fix := "VRRPv2 nodes (RFC 3768) drop adverts with another interval and both become master; set the same advert_interval"
				if first.in.Version == 3 && m.in.Version == 3 {
					fix = "with VRRPv3 a backup times the master by the master's interval, so failover takes longer on one side than the other; set the same advert_interval"
				}
				differ("advert_interval", first.in.AdvertInterval.String(), m.in.AdvertInterval.String(), fix)
			}
			if first.in.AuthPass != m.in.AuthPass {
				differ("auth_pass", masked(first.in.AuthPass), masked(m.in.AuthPass),
					"a node drops adverts with another password and both become master; set the same auth_pass")
			}
			if first.in.UseVMAC && m.in.UseVMAC && len(first.in.UnicastPeers) == 0 && len(m.in.UnicastPeers) == 0 &&
				first.in.VMACXmitBase != m.in.VMACXmitBase {
				differ("vmac_xmit_base", fmt.Sprint(first.in.VMACXmitBase), fmt.Sprint(m.in.VMACXmitBase),
					"adverts from the virtual MAC reach only the peers' macvlans, while vmac_xmit_base listens on the interface itself: "+
						"the node with vmac_xmit_base never hears the other, and when that other has the higher priority both are master; set the same vmac_xmit_base")
			}
		}
		var peers []peer
		for _, m := range ms {
			peers = append(peers, peer{m.node, m.in})
		}
		diags = append(diags, checkPeers(where, peers)...)
		for i, a := range ms {
			for _, b := range ms[i+1:] {
				if a.in.Priority == b.in.Priority {
					add(hcl.DiagError, b.in.DeclRange,
						fmt.Sprintf("%s: %s and %s both have priority %d", where, a.node, b.node, a.in.Priority),
						"with equal priorities the higher address wins by accident; give each node its own priority")
				}
			}
		}
		// The would-be master: the highest priority with every check passing.
		master := 0
		for i, m := range ms {
			if healthyPriority(m.in) > healthyPriority(ms[master].in) {
				master = i
			}
		}
		mp := healthyPriority(ms[master].in)
		for _, tc := range ms[master].in.TrackChecks {
			if tc.Weight == 0 || ms[master].in.Priority == ownerPriority {
				continue // FAULT while failing: that always moves the VIPs
			}
			failing := clampPriority(mp - abs(tc.Weight))
			for i, o := range ms {
				op := healthyPriority(o.in)
				if i == master || failing < op {
					continue
				}
				fix := fmt.Sprintf("make the weight at most %d (or 0 for FAULT), or narrow the gap between the priorities", -(mp - op + 1))
				if tc.Weight > 0 {
					fix = fmt.Sprintf("make the weight at least %d, or narrow the gap between the priorities", mp-op+1)
				}
				add(hcl.DiagError, tc.DeclRange,
					fmt.Sprintf("check %s failing on %s leaves priority %d >= %s's %d: the VIPs would not move",
						tc.Check, ms[master].node, failing, o.node, op), fix)
			}
		}
	}
	return diags
}

// peer is one node's instance of a virtual router.
type peer struct {
	name string
	in   Instance
}

// checkPeers checks unicast: either every node multicasts, or each lists
// every other's unicast_source among its unicast_peers.
func checkPeers(where string, all []peer) hcl.Diagnostics {
	var diags hcl.Diagnostics
	unicast := 0
	for _, n := range all {
		if len(n.in.UnicastPeers) > 0 {
			unicast++
		}
	}
	if unicast == 0 {
		return nil
	}
	for _, a := range all {
		r := a.in.DeclRange
		if len(a.in.UnicastPeers) == 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Subject: &r,
				Summary: fmt.Sprintf("%s: %s multicasts but the others use unicast_peers", where, a.name),
				Detail:  "a multicast node and a unicast node do not hear each other; give every node unicast_source and unicast_peers, or none"})
			continue
		}
		for _, b := range all {
			if a.name == b.name || len(b.in.UnicastPeers) == 0 {
				continue
			}
			if !b.in.UnicastSource.IsValid() {
				rb := b.in.DeclRange
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Subject: &rb,
					Summary: fmt.Sprintf("%s: %s has no unicast_source", where, b.name),
					Detail:  "its peers cannot be checked against its address; set unicast_source"})
				continue
			}
			if !slices.Contains(a.in.UnicastPeers, b.in.UnicastSource) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Subject: &r,
					Summary: fmt.Sprintf("%s: %s's unicast_peers lack %s (%s's unicast_source)", where, a.name, b.in.UnicastSource, b.name),
					Detail:  fmt.Sprintf("%s would never hear %s; add %q to unicast_peers", b.name, a.name, b.in.UnicastSource.String())})
			}
		}
	}
	return diags
}

// healthyPriority is what an instance advertises with every check passing.
func healthyPriority(in Instance) int {
	if in.Priority == ownerPriority {
		return ownerPriority
	}
	p := int(in.Priority)
	for _, tc := range in.TrackChecks {
		if tc.Weight > 0 {
			p += tc.Weight
		}
	}
	return clampPriority(p)
}

// clampPriority keeps a computed priority within 1..254, as the daemon and
// keepalived do.
func clampPriority(p int) int { return min(max(p, 1), 254) }

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	slices.Sort(s)
	return "[" + strings.Join(s, ", ") + "]"
}

// masked shows whether a password is set without printing it.
func masked(pass string) string {
	if pass == "" {
		return "none"
	}
	return fmt.Sprintf("one of %d characters", len(pass))
}

// nodeNames names each file's node: its node_name, or its file name when
// two files share one (node_name defaults to the host name of the machine
// that runs validate).
func nodeNames(cfgs []*Config) []string {
	count := map[string]int{}
	for _, c := range cfgs {
		count[c.NodeName]++
	}
	names := make([]string, len(cfgs))
	for i, c := range cfgs {
		names[i] = c.NodeName
		if count[c.NodeName] > 1 || c.NodeName == "" {
			names[i] = filepath.Base(c.Path)
		}
	}
	return names
}

// WeightWarnings is CheckCluster's weight arithmetic for one node, run on a
// backup: masterPriority is what the master advertises now (its checks
// passing). Assuming the master tracks the same checks with the same
// weights as this file, each one whose failure would leave the master at or
// above our priority is a warning: the VIPs would not move.
func WeightWarnings(in Instance, master string, masterPriority int) []string {
	if masterPriority <= 0 || masterPriority == ownerPriority {
		return nil
	}
	ours := healthyPriority(in)
	var out []string
	for _, tc := range in.TrackChecks {
		if tc.Weight == 0 {
			continue
		}
		failing := clampPriority(masterPriority - abs(tc.Weight))
		if failing >= ours {
			out = append(out, fmt.Sprintf("%s: if master %s tracks check %s with weight %d as this node does, its failure leaves priority %d >= our %d: the VIPs would not move (hasidecar validate with both nodes' files checks this)",
				in.Name, master, tc.Check, tc.Weight, failing, ours))
		}
	}
	return out
}
