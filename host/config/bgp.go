package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// BGP configures the embedded BGP speaker (`bgp { ... }`).
type BGP struct {
	ASN      uint32
	RouterID netip.Addr
	// BindInterface is where bgp_announce prefixes are bound while the
	// daemon runs, so that nginx accepts traffic for them ("lo" by default).
	BindInterface string
	Peers         []BGPPeer

	DeclRange hcl.Range
}

// BGPPeer is one neighbour the speaker dials.
type BGPPeer struct {
	Name     string
	Address  netip.Addr
	ASN      uint32
	Port     uint16        // 0: 179
	Password string        // TCP MD5; empty: none
	HoldTime time.Duration // 0: 90 s
}

// BGPAnnounce is a `bgp_announce "NAME"` block: prefixes every node announces
// while all the checks it tracks pass (active-active behind ECMP).
type BGPAnnounce struct {
	Name        string
	Prefixes    []netip.Prefix
	TrackChecks []TrackCheck // weights are not used: every one must pass

	DeclRange hcl.Range
}

// Defaults and ranges of the bgp block.
const (
	DefaultBGPBindInterface = "lo"
	maxASN                  = 4294967294 // 4294967295 is reserved (RFC 7300)
	minHoldTime             = 3 * time.Second
	maxHoldTime             = 65535 * time.Second
	// AnnounceBGP is the value of a vrrp_instance's announce key that
	// announces its VIPs over BGP while it is master.
	AnnounceBGP = "bgp"
)

func bgpSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "asn"}, {Name: "router_id"}, {Name: "bind_interface"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "peer", LabelNames: []string{"name"}}},
	}
}

// bgp decodes the `bgp` block.
func (d *decoder) bgp(blk *hcl.Block) *BGP {
	content, diags := blk.Body.Content(bgpSchema())
	d.diags = append(d.diags, diags...)
	b := &BGP{BindInterface: DefaultBGPBindInterface, DeclRange: blk.DefRange}
	if a, ok := content.Attributes["asn"]; ok {
		if n, ok := d.intIn(a, 1, maxASN, "use this node's AS number, 1 to 4294967294 (private: 64512-65534)"); ok {
			b.ASN = uint32(n)
		}
	} else {
		d.errorAt(blk.DefRange, nil, "bgp has no asn", "add asn = 65010 (this node's AS number)")
	}
	if a, ok := content.Attributes["router_id"]; ok {
		if s, ok := d.str(a, `"198.51.100.1"`); ok {
			addr, err := netip.ParseAddr(s)
			if err != nil || !addr.Is4() || addr.IsUnspecified() {
				d.valueError(a, d.shown(a)+" is not an IPv4 address",
					`a BGP identifier is written as an IPv4 address, usually the node's own, for example router_id = "198.51.100.1"`)
			} else {
				b.RouterID = addr
			}
		}
	} else {
		d.errorAt(blk.DefRange, nil, "bgp has no router_id", `add router_id = "198.51.100.1" (usually the node's own IPv4 address)`)
	}
	if a, ok := content.Attributes["bind_interface"]; ok {
		if s, ok := d.str(a, `"lo"`); ok {
			if reason := badInterfaceName(s); reason != "" {
				d.valueError(a, d.shown(a)+" is not an interface name", reason)
			}
			b.BindInterface = s
		}
	}
	seen := map[string]*hcl.Block{}
	addrs := map[netip.Addr]string{}
	for _, pb := range content.Blocks {
		if !d.uniqueName(pb, seen) {
			continue
		}
		p, ok := d.bgpPeer(pb)
		if !ok {
			continue
		}
		if first, dup := addrs[p.Address]; dup {
			d.errorAt(pb.DefRange, nil, fmt.Sprintf("peer %q has the address of peer %q", p.Name, first),
				"each peer needs its own address; remove one")
			continue
		}
		addrs[p.Address] = p.Name
		b.Peers = append(b.Peers, p)
	}
	if len(content.Blocks) == 0 {
		d.errorAt(blk.DefRange, nil, "bgp has no peer",
			`add the router to announce to: peer "tor1" { address = "198.51.100.254", asn = 65000 }`)
	}
	return b
}

func bgpPeerSchema() *hcl.BodySchema {
	return &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "address"}, {Name: "asn"}, {Name: "port"}, {Name: "password"}, {Name: "hold_time"},
	}}
}

func (d *decoder) bgpPeer(blk *hcl.Block) (BGPPeer, bool) {
	content, diags := blk.Body.Content(bgpPeerSchema())
	d.diags = append(d.diags, diags...)
	p := BGPPeer{Name: blk.Labels[0]}
	ok := !diags.HasErrors()
	if a, has := content.Attributes["address"]; has {
		if s, good := d.str(a, `"198.51.100.254"`); good {
			addr, err := netip.ParseAddr(s)
			if err != nil || strings.Contains(s, "%") || addr.IsUnspecified() || addr.IsMulticast() {
				d.valueError(a, d.shown(a)+" is not a peer address", `give the router's address, for example address = "198.51.100.254"`)
				ok = false
			} else {
				p.Address = addr
			}
		} else {
			ok = false
		}
	} else {
		d.errorAt(blk.DefRange, nil, fmt.Sprintf("peer %q has no address", p.Name), `add address = "198.51.100.254"`)
		ok = false
	}
	if a, has := content.Attributes["asn"]; has {
		if n, good := d.intIn(a, 1, maxASN, "use the router's AS number, 1 to 4294967294"); good {
			p.ASN = uint32(n)
		} else {
			ok = false
		}
	} else {
		d.errorAt(blk.DefRange, nil, fmt.Sprintf("peer %q has no asn", p.Name), "add asn = 65000 (the router's AS number)")
		ok = false
	}
	if a, has := content.Attributes["port"]; has {
		if n, good := d.intIn(a, 1, 65535, "use 1 to 65535; BGP's port is 179"); good {
			p.Port = uint16(n)
		}
	}
	if a, has := content.Attributes["password"]; has {
		if s, good := d.str(a, `"secret"`); good {
			if s == "" || len(s) > 80 {
				d.valueError(a, "password must be 1 to 80 characters", "TCP MD5 keys are at most 80 bytes; remove the line for no password")
			}
			p.Password = s
		}
	}
	if a, has := content.Attributes["hold_time"]; has {
		if dur, good := d.duration(a, `"90s"`); good {
			if dur < minHoldTime || dur > maxHoldTime || dur%time.Second != 0 {
				d.valueError(a, d.shown(a)+" is not a usable hold time",
					`use whole seconds from "3s" to "65535s" (BGP's minimum is 3 s; keepalives go at a third of it)`)
			}
			p.HoldTime = dur
		}
	}
	return p, ok
}

func bgpAnnounceSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "prefixes"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "track_check", LabelNames: []string{"check"}}},
	}
}

// bgpAnnounce decodes a `bgp_announce "NAME"` block.
func (d *decoder) bgpAnnounce(blk *hcl.Block) BGPAnnounce {
	content, diags := blk.Body.Content(bgpAnnounceSchema())
	d.diags = append(d.diags, diags...)
	a := BGPAnnounce{Name: blk.Labels[0], DeclRange: blk.DefRange}
	if attr, ok := content.Attributes["prefixes"]; ok {
		items, listOK := d.stringList(attr, `["203.0.113.10/32"]`)
		for _, it := range items {
			p, err := netip.ParsePrefix(it.value)
			if err != nil {
				if addr, aerr := netip.ParseAddr(it.value); aerr == nil {
					p, err = addr.Prefix(addr.BitLen())
				}
			}
			if err != nil || p.Addr().Zone() != "" {
				d.errorAt(it.expr.Range(), nil, fmt.Sprintf("%s = %q is not an address or prefix", it.name, it.value),
					`write a host address such as "203.0.113.10" or a prefix such as "203.0.113.10/32"`)
				continue
			}
			if p != p.Masked() {
				d.errorAt(it.expr.Range(), nil, fmt.Sprintf("%s = %q has host bits set", it.name, it.value),
					fmt.Sprintf("announce %q, or the host route %q", p.Masked(), p.Addr().String()+fmt.Sprintf("/%d", p.Addr().BitLen())))
				continue
			}
			a.Prefixes = append(a.Prefixes, p)
		}
		if listOK && len(items) == 0 {
			d.valueError(attr, "prefixes is empty", `list what to announce, for example prefixes = ["203.0.113.10/32"]`)
		}
	} else {
		d.errorAt(blk.DefRange, nil, fmt.Sprintf("bgp_announce %q has no prefixes", a.Name), `add prefixes = ["203.0.113.10/32"]`)
	}
	seen := map[string]bool{}
	for _, tb := range content.Blocks {
		if len(tb.Labels) == 0 {
			continue
		}
		_, diags := tb.Body.Content(&hcl.BodySchema{})
		d.diags = append(d.diags, diags...)
		name := tb.Labels[0]
		if seen[name] {
			d.errorAt(tb.DefRange, nil, fmt.Sprintf("track_check %q is repeated", name), "keep one")
			continue
		}
		seen[name] = true
		a.TrackChecks = append(a.TrackChecks, TrackCheck{Check: name, DeclRange: tb.DefRange})
	}
	return a
}

// instanceBGP decodes a vrrp_instance's announce and backup_med keys.
func (d *decoder) instanceBGP(attrs hcl.Attributes, in *Instance) {
	if a, ok := attrs["announce"]; ok {
		if s, ok := d.str(a, `"bgp"`); ok {
			if s != AnnounceBGP {
				d.valueError(a, d.shown(a)+" is not a way to announce", `use announce = "bgp", or remove the line (VRRP and ARP only)`)
			}
			in.Announce = s
			in.AnnounceRange = a.Range
		}
	}
	if a, ok := attrs["backup_med"]; ok {
		if n, ok := d.intIn(a, 1, 4294967295, "use 1 to 4294967295, higher than the master's 0; remove the line to withdraw on a backup"); ok {
			in.BackupMED = uint32(n)
		}
		if in.Announce != AnnounceBGP {
			d.valueError(a, "backup_med without announce = \"bgp\"", `add announce = "bgp", or remove backup_med`)
		}
	}
}

// resolveBGP checks what spans blocks: announcing needs a bgp block, and
// bgp_announce tracks declared checks.
func (d *decoder) resolveBGP(cfg *Config, checks map[string]*hcl.Block) {
	for _, in := range cfg.Instances {
		if in.Announce == AnnounceBGP && cfg.BGP == nil {
			d.errorAt(in.AnnounceRange, nil, fmt.Sprintf("vrrp_instance %q announces over BGP, but there is no bgp block", in.Name),
				`add bgp { asn = ..., router_id = "...", peer "tor1" { ... } }, or remove announce`)
		}
	}
	for _, a := range cfg.BGPAnnounces {
		if cfg.BGP == nil {
			d.errorAt(a.DeclRange, nil, fmt.Sprintf("bgp_announce %q needs a bgp block", a.Name),
				`add bgp { asn = ..., router_id = "...", peer "tor1" { ... } }`)
		}
		for _, tc := range a.TrackChecks {
			if _, ok := checks[tc.Check]; !ok {
				d.errorAt(tc.DeclRange, nil, fmt.Sprintf("track_check %q names no check", tc.Check),
					fmt.Sprintf(`declare check %q { plugin = "..." } or track a declared check`, tc.Check))
			}
		}
	}
}
