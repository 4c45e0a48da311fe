package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Protocol limits that the configuration must respect.
const (
	maxVRID            = 255
	ownerPriority      = 255
	maxTrackWeight     = 253 // keepalived track_script: -253..253
	maxPreemptDelay    = 1000 * time.Second
	v3AdvertStep       = 10 * time.Millisecond // RFC 5798: centiseconds
	v3MaxAdvert        = 4095 * v3AdvertStep   // 12-bit field
	v2MaxAdvert        = 255 * time.Second     // RFC 3768: 8-bit seconds
	maxVirtualIPs      = 255                   // the advertisement's 8-bit address count
	maxAuthPassBytes   = 8                     // RFC 2338 authentication data
	maxInterfaceName   = 15                    // IFNAMSIZ - 1
	exampleVirtualIPs  = `["198.51.100.10/24"]`
	exampleUnicastPeer = `["198.51.100.2"]`
)

func instanceSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "interface"}, {Name: "virtual_router_id"}, {Name: "priority"}, {Name: "version"},
			{Name: "advert_interval"}, {Name: "preempt"}, {Name: "preempt_delay"}, {Name: "fast_preempt"}, {Name: "virtual_ips"},
			{Name: "unicast_source"}, {Name: "unicast_peers"}, {Name: "auth_pass"}, {Name: "notify"},
			{Name: "excluded_ips"}, {Name: "use_vmac"}, {Name: "vmac_xmit_base"}, {Name: "vmac_interface"},
			{Name: "notify_master"}, {Name: "notify_backup"}, {Name: "notify_fault"}, {Name: "notify_stop"},
			{Name: "announce"}, {Name: "backup_med"},
		},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "track_check", LabelNames: []string{"check"}},
			{Type: "track_interface", LabelNames: []string{"name"}},
		},
	}
}

// instance decodes one `vrrp_instance "NAME"` block. It also returns the range
// of the virtual_router_id value, for the duplicate-VRID check across blocks.
func (d *decoder) instance(blk *hcl.Block) (Instance, hcl.Range) {
	content, diags := blk.Body.Content(instanceSchema())
	d.diags = append(d.diags, diags...)
	in := Instance{
		Name:           blk.Labels[0],
		Version:        DefaultVersion,
		AdvertInterval: DefaultAdvertInterval,
		Preempt:        DefaultPreempt,
		FastPreempt:    DefaultFastPreempt,
		DeclRange:      blk.DefRange,
	}
	attrs := content.Attributes
	missing := func(name, example string) {
		d.errorAt(blk.DefRange, nil, fmt.Sprintf("vrrp_instance %q has no %s", in.Name, name),
			fmt.Sprintf("add %s = %s", name, example))
	}

	if a, ok := attrs["interface"]; ok {
		if s, ok := d.str(a, `"eth0"`); ok {
			if reason := badInterfaceName(s); reason != "" {
				d.valueError(a, d.shown(a)+" is not an interface name", reason)
			}
			in.Interface = s
		}
	} else {
		missing("interface", `"eth0"`)
	}

	var vridRange hcl.Range
	if a, ok := attrs["virtual_router_id"]; ok {
		vridRange = a.Expr.Range()
		if n, ok := d.intIn(a, 1, maxVRID, ""); ok {
			in.VRID = uint8(n)
		}
	} else {
		missing("virtual_router_id", "51 (1 to 255, the same on every node of this instance)")
	}

	if a, ok := attrs["priority"]; ok {
		if n, ok := d.intIn(a, 1, ownerPriority, "use 1 to 254, or 255 for the address owner"); ok {
			in.Priority = uint8(n)
		}
	} else {
		missing("priority", "150 (1 to 254; the highest wins)")
	}

	versionOK := true
	versionAttr, hasVersion := attrs["version"]
	if a, ok := versionAttr, hasVersion; ok {
		if n, ok := d.intIn(a, 2, 3, "use 2 (RFC 3768) or 3 (RFC 5798)"); ok {
			in.Version = uint8(n)
		} else {
			versionOK = false
		}
	}

	if a, ok := attrs["advert_interval"]; ok {
		if dur, ok := d.duration(a, `"1s"`); ok {
			in.AdvertInterval = dur
			if versionOK {
				d.checkAdvertInterval(a, dur, in.Version)
			}
		}
	}

	if a, ok := attrs["preempt"]; ok {
		if b, ok := d.boolean(a); ok {
			in.Preempt = b
		}
	}

	if a, ok := attrs["fast_preempt"]; ok {
		if b, ok := d.boolean(a); ok {
			in.FastPreempt = b
		}
	}

	if a, ok := attrs["preempt_delay"]; ok {
		if dur, ok := d.duration(a, `"0s"`); ok {
			if dur < 0 || dur > maxPreemptDelay {
				d.valueError(a, d.shown(a)+" is out of range", `use "0s" to "1000s"`)
			}
			in.PreemptDelay = dur
		}
	}

	if a, ok := attrs["virtual_ips"]; ok {
		in.VirtualIPs = d.virtualIPs(a)
	} else {
		missing("virtual_ips", exampleVirtualIPs)
	}
	if versionOK && hasVersion {
		d.checkIPv6Version(versionAttr, in)
	}
	d.extraIPv6(attrs, &in)

	d.unicast(attrs, &in)
	if a, ok := attrs["vmac_xmit_base"]; ok && in.VMACXmitBase && len(in.UnicastPeers) > 0 {
		d.valueWarning(a, "vmac_xmit_base changes nothing with unicast_peers",
			"unicast adverts always go out and come in on the interface itself; remove the line")
	}

	if a, ok := attrs["auth_pass"]; ok {
		in.AuthPass = d.authPass(a, in.Version, versionOK)
	}

	if a, ok := attrs["notify"]; ok {
		if s, ok := d.str(a, `"/etc/hasidecar/notify.sh"`); ok {
			if !filepath.IsAbs(s) {
				d.valueError(a, d.shown(a)+" is not an absolute path",
					`give the script's full path, for example notify = "/etc/hasidecar/notify.sh"`)
			}
			in.Notify = s
		}
	}

	d.notifyCommands(attrs, &in)
	d.instanceBGP(attrs, &in)
	d.trackBlocks(content.Blocks, &in)
	return in, vridRange
}

// authPass decodes the VRRPv2 simple password. On a v3 instance it is ignored
// with a warning rather than rejected: DESIGN.md's own example pairs
// version = 3 with auth_pass, and keepalived accepts and ignores it the same way.
func (d *decoder) authPass(a *hcl.Attribute, version uint8, versionOK bool) string {
	s, ok := d.str(a, `"secret1"`)
	if !ok {
		return ""
	}
	switch {
	case versionOK && version != 2:
		d.valueWarning(a, "auth_pass is ignored by VRRPv3",
			"VRRPv3 has no authentication (keepalived ignores it too); remove auth_pass, or set version = 2 on every node to use it")
		return ""
	case s == "":
		d.valueError(a, "auth_pass is empty", "remove the line for no authentication, or set 1 to 8 characters")
	case len(s) > maxAuthPassBytes:
		d.valueError(a, fmt.Sprintf("auth_pass is %d bytes long", len(s)),
			"VRRPv2 simple authentication carries at most 8 bytes (keepalived silently truncates); use 8 characters or fewer on every node")
	}
	return s
}

// checkAdvertInterval applies the version's encoding limits to advert_interval.
func (d *decoder) checkAdvertInterval(a *hcl.Attribute, dur time.Duration, version uint8) {
	if version == 2 {
		switch {
		case dur < time.Second || dur > v2MaxAdvert:
			d.valueError(a, d.shown(a)+" is out of range for VRRPv2",
				`use whole seconds from "1s" to "255s", or set version = 3 for shorter intervals`)
		case dur%time.Second != 0:
			d.valueError(a, d.shown(a)+" is not a whole number of seconds",
				fmt.Sprintf("VRRPv2 advertises whole seconds; use %q, or set version = 3 for sub-second intervals",
					dur.Round(time.Second).String()))
		}
		return
	}
	switch {
	case dur < v3AdvertStep || dur > v3MaxAdvert:
		d.valueError(a, d.shown(a)+" is out of range for VRRPv3", `use "10ms" to "40.95s"`)
	case dur%v3AdvertStep != 0:
		d.valueError(a, d.shown(a)+" is not a multiple of 10ms",
			fmt.Sprintf("VRRPv3 advertises centiseconds; use for example %q", dur.Round(v3AdvertStep).String()))
	}
}

// virtualIPs decodes the VIP list: IPv4 "a.b.c.d/len", or "a.b.c.d" for /32.
func (d *decoder) virtualIPs(a *hcl.Attribute) []netip.Prefix {
	items, ok := d.stringList(a, exampleVirtualIPs)
	if ok && len(items) == 0 {
		d.valueError(a, "virtual_ips is empty", "list at least one address, for example virtual_ips = "+exampleVirtualIPs)
		return nil
	}
	if len(items) > maxVirtualIPs {
		d.valueError(a, fmt.Sprintf("virtual_ips lists %d addresses", len(items)),
			"an advertisement carries at most 255; split them across instances")
	}
	seen := map[netip.Addr]int{}
	var out []netip.Prefix
	for _, it := range items {
		p, ok := d.parseVirtualIP(it)
		if !ok {
			continue
		}
		if first, dup := seen[p.Addr()]; dup {
			d.errorAt(it.expr.Range(), a.Range.Ptr(),
				fmt.Sprintf("%s = %q repeats %s", it.name, it.value, items[first].name),
				"list each virtual IP once")
			continue
		}
		if len(out) > 0 && p.Addr().Is4() != out[0].Addr().Is4() {
			d.errorAt(it.expr.Range(), a.Range.Ptr(),
				fmt.Sprintf("%s = %q is not of the same family as %s", it.name, it.value, out[0].Addr()),
				"an instance speaks VRRP over IPv4 or over IPv6, not both: move it to excluded_ips (added and removed with the VIPs, never advertised) or to an instance of its own")
			continue
		}
		seen[p.Addr()] = len(out)
		out = append(out, p)
	}
	return out
}

func (d *decoder) parseVirtualIP(it listItem) (netip.Prefix, bool) {
	bad := func(summary, detail string) (netip.Prefix, bool) {
		d.errorAt(it.expr.Range(), nil, fmt.Sprintf("%s = %q %s", it.name, it.value, summary), detail)
		return netip.Prefix{}, false
	}
	const fix = `use "a.b.c.d/len" or "a.b.c.d" for /32, "x:y::z/len" or "x:y::z" for /128, for example "198.51.100.10/24"`
	if strings.Contains(it.value, "%") {
		return bad("has a zone", `leave out the "%zone": the instance's interface is the zone`)
	}
	var p netip.Prefix
	if strings.Contains(it.value, "/") {
		var err error
		if p, err = netip.ParsePrefix(it.value); err != nil {
			return bad("is not an address with a prefix length", fix)
		}
	} else {
		addr, err := netip.ParseAddr(it.value)
		if err != nil {
			return bad("is not an IP address", fix)
		}
		p = netip.PrefixFrom(addr, addr.BitLen())
	}
	if reason := badUnicastAddr(p.Addr()); reason != "" {
		return bad("cannot be a virtual IP", reason)
	}
	return p, true
}

// badUnicastAddr says why addr cannot be a node's or a VIP's address, or "".
func badUnicastAddr(addr netip.Addr) string {
	switch {
	case addr.IsUnspecified():
		return addr.String() + " is no host's address; use a real address"
	case addr.IsMulticast():
		return "it is a multicast address; use a unicast address"
	case addr.Is6() && (addr.IsLoopback() || addr.Is4In6()):
		return "it is a loopback or IPv4-mapped address; use an address of the segment"
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "it is the broadcast address; use a unicast IPv4 address"
	}
	return ""
}

// unicast decodes unicast_source and unicast_peers, which only make sense together.
func (d *decoder) unicast(attrs hcl.Attributes, in *Instance) {
	srcAttr, hasSrc := attrs["unicast_source"]
	if hasSrc {
		if s, ok := d.str(srcAttr, `"198.51.100.1"`); ok {
			in.UnicastSource, _ = d.nodeAddr(srcAttr.Expr.Range(), srcAttr.Name, s, familyOf(in.VirtualIPs))
		}
	}
	peersAttr, hasPeers := attrs["unicast_peers"]
	if hasPeers {
		items, ok := d.stringList(peersAttr, exampleUnicastPeer)
		if ok && len(items) == 0 {
			d.valueError(peersAttr, "unicast_peers is empty",
				"list the other nodes' addresses, for example unicast_peers = "+exampleUnicastPeer+", or remove the line for multicast")
		}
		seen := map[netip.Addr]string{}
		for _, it := range items {
			addr, ok := d.nodeAddr(it.expr.Range(), it.name, it.value, familyOf(in.VirtualIPs))
			if !ok {
				continue
			}
			if first, dup := seen[addr]; dup {
				d.errorAt(it.expr.Range(), peersAttr.Range.Ptr(),
					fmt.Sprintf("%s = %q repeats %s", it.name, it.value, first), "list each peer once")
				continue
			}
			if addr == in.UnicastSource {
				d.errorAt(it.expr.Range(), peersAttr.Range.Ptr(),
					fmt.Sprintf("%s = %q is this node's unicast_source", it.name, it.value),
					"list only the other nodes in unicast_peers")
				continue
			}
			seen[addr] = it.name
			in.UnicastPeers = append(in.UnicastPeers, addr)
		}
	}
	if hasSrc && !hasPeers {
		d.valueError(srcAttr, "unicast_source is set without unicast_peers",
			"add unicast_peers = "+exampleUnicastPeer+" to advertise by unicast, or remove unicast_source to use multicast")
	}
}

// nodeAddr parses a node address for unicast use; family is the instance's
// (4 or 6, from its VIPs; 0 when they are unknown).
func (d *decoder) nodeAddr(rng hcl.Range, name, s string, family int) (netip.Addr, bool) {
	addr, err := netip.ParseAddr(s)
	switch {
	case err != nil || strings.Contains(s, "%"):
		d.errorAt(rng, nil, fmt.Sprintf("%s = %q is not an IP address", name, s),
			`use an address such as "198.51.100.1" or "2001:db8:51::1" (no prefix length, no zone)`)
		return netip.Addr{}, false
	case family == 4 && !addr.Is4():
		d.errorAt(rng, nil, fmt.Sprintf("%s = %q is an IPv6 address", name, s),
			"this instance's virtual_ips are IPv4, so it speaks VRRP over IPv4; use the node's IPv4 address")
		return netip.Addr{}, false
	case family == 6 && addr.Is4():
		d.errorAt(rng, nil, fmt.Sprintf("%s = %q is an IPv4 address", name, s),
			"this instance's virtual_ips are IPv6, so it speaks VRRP over IPv6; use the node's IPv6 address")
		return netip.Addr{}, false
	}
	if reason := badUnicastAddr(addr); reason != "" {
		d.errorAt(rng, nil, fmt.Sprintf("%s = %q cannot be a node address", name, s), reason)
		return netip.Addr{}, false
	}
	return addr, true
}

func trackCheckSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "weight"}}}
}

// trackBlocks decodes track_check and track_interface blocks.
func (d *decoder) trackBlocks(blocks hcl.Blocks, in *Instance) {
	checks := map[string]hcl.Range{}
	ifaces := map[string]hcl.Range{}
	for _, blk := range blocks {
		if len(blk.Labels) == 0 {
			continue // hcl has reported the missing label
		}
		name := blk.Labels[0]
		switch blk.Type {
		case "track_check":
			content, diags := blk.Body.Content(trackCheckSchema())
			d.diags = append(d.diags, diags...)
			tc := TrackCheck{Check: name, DeclRange: blk.DefRange}
			if a, ok := content.Attributes["weight"]; ok {
				tc.Weight, _ = d.intIn(a, -maxTrackWeight, maxTrackWeight,
					"use -253 to 253 (as keepalived): < 0 is added while failing, > 0 while passing, 0 means FAULT while failing")
				if tc.Weight != 0 && in.Priority == ownerPriority {
					d.valueError(a, fmt.Sprintf("%s cannot change an address owner's priority", d.shown(a)),
						"priority = 255 is fixed (as in keepalived); set weight = 0 or a priority below 255")
				}
			}
			if name == "" {
				d.errorAt(blk.LabelRanges[0], blk.DefRange.Ptr(), "track_check names no check",
					`name a declared check, for example track_check "nginx" { weight = -60 }`)
				continue
			}
			if first, dup := checks[name]; dup {
				d.errorAt(blk.DefRange, nil, fmt.Sprintf("track_check %q is repeated", name),
					fmt.Sprintf("it is already tracked at line %d; keep one", first.Start.Line))
				continue
			}
			checks[name] = blk.DefRange
			in.TrackChecks = append(in.TrackChecks, tc)
		case "track_interface":
			_, diags := blk.Body.Content(&hcl.BodySchema{})
			d.diags = append(d.diags, diags...)
			if reason := badInterfaceName(name); reason != "" {
				d.errorAt(blk.LabelRanges[0], blk.DefRange.Ptr(),
					fmt.Sprintf("track_interface %q is not an interface name", name), reason)
				continue
			}
			if first, dup := ifaces[name]; dup {
				d.errorAt(blk.DefRange, nil, fmt.Sprintf("track_interface %q is repeated", name),
					fmt.Sprintf("it is already tracked at line %d; keep one", first.Start.Line))
				continue
			}
			ifaces[name] = blk.DefRange
			in.TrackInterfaces = append(in.TrackInterfaces, name)
		}
	}
}

// badInterfaceName says why s cannot be a Linux interface name, or "".
func badInterfaceName(s string) string {
	const fix = `; use the name "ip link" shows, for example "eth0"`
	switch {
	case s == "":
		return "the name is empty" + fix
	case len(s) > maxInterfaceName:
		return fmt.Sprintf("Linux interface names have at most %d bytes%s", maxInterfaceName, fix)
	case s == "." || s == "..":
		return "it is not a valid name" + fix
	case strings.ContainsAny(s, "/: \t\n\r\v\f"):
		return "interface names contain no '/', ':' or spaces" + fix
	}
	return ""
}

// vridKey identifies a virtual router on the wire: one VRID per interface
// and protocol (VRRP over IPv4 and over IPv6 are separate, as in keepalived).
type vridKey struct {
	iface  string
	vrid   uint8
	family int
}

// uniqueVRID reports a second instance using a VRID already taken on its interface.
func (d *decoder) uniqueVRID(in Instance, vridRange hcl.Range, seen map[vridKey]Instance) {
	if in.Interface == "" || in.VRID == 0 {
		return
	}
	key := vridKey{in.Interface, in.VRID, familyOf(in.VirtualIPs)}
	if first, dup := seen[key]; dup {
		d.errorAt(vridRange, nil,
			fmt.Sprintf("virtual_router_id = %d is already used on %s by vrrp_instance %q (line %d)",
				in.VRID, in.Interface, first.Name, first.DeclRange.Start.Line),
			"instances on one interface need different virtual_router_id values; pick another from 1 to 255")
		return
	}
	seen[key] = in
}

// resolveTrackChecks reports track_check blocks that name no declared check.
func (d *decoder) resolveTrackChecks(instances []Instance, checks map[string]*hcl.Block) {
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, strconv.Quote(n))
	}
	sort.Strings(names)
	for _, in := range instances {
		for _, tc := range in.TrackChecks {
			if _, ok := checks[tc.Check]; ok {
				continue
			}
			fix := fmt.Sprintf(`declare check %q { plugin = "..." } or track a declared check`, tc.Check)
			if len(names) > 0 {
				fix = fmt.Sprintf("declared checks are %s; fix the name or declare check %q", strings.Join(names, ", "), tc.Check)
			}
			d.errorAt(tc.DeclRange, nil, fmt.Sprintf("track_check %q names no check", tc.Check), fix)
		}
	}
}
