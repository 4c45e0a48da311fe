package kaimport

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hasidecar/hasidecar/host/config"
)

// emit writes the hasidecar configuration, each block commented with the
// keepalived line it came from.
func (c *converter) emit(source string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Imported from %s by `hasidecar import`.\n", source)
	b.WriteString("# Each block names the keepalived line it came from; what was not carried over\n")
	b.WriteString("# was listed on stderr. Check it with `hasidecar validate --config FILE`.\n")
	if c.nodeName != "" {
		fmt.Fprintf(&b, "\nnode_name = %s # router_id, %s\n", hclString(c.nodeName), c.nodePos)
	}
	for _, ch := range c.checks {
		if !ch.used {
			continue
		}
		fmt.Fprintf(&b, "\n# vrrp_script %s, %s\n", ch.name, ch.pos)
		fmt.Fprintf(&b, "check %s {\n", hclString(ch.name))
		fmt.Fprintf(&b, "  plugin   = \"script\"\n")
		fmt.Fprintf(&b, "  interval = %s\n", hclDuration(ch.interval))
		fmt.Fprintf(&b, "  timeout  = %s\n", hclDuration(ch.timeout))
		fmt.Fprintf(&b, "  rise     = %d\n", ch.rise)
		fmt.Fprintf(&b, "  fall     = %d\n", ch.fall)
		b.WriteString("  config {\n")
		fmt.Fprintf(&b, "    command = %s\n", hclList(ch.command))
		if ch.user != "" {
			fmt.Fprintf(&b, "    user    = %s\n", hclString(ch.user))
		}
		b.WriteString("  }\n}\n")
	}
	for _, in := range c.instances {
		if in.skip {
			continue
		}
		c.emitInstance(&b, in)
	}
	for _, g := range c.groups {
		if len(g.emitted) > 0 {
			emitGroup(&b, g)
		}
	}
	return []byte(b.String())
}

func (c *converter) emitInstance(b *strings.Builder, in *instance) {
	fmt.Fprintf(b, "\n# vrrp_instance %s, %s\n", in.name, in.pos)
	fmt.Fprintf(b, "vrrp_instance %s {\n", hclString(in.name))
	attr := func(k, v string) { fmt.Fprintf(b, "  %-17s = %s\n", k, v) }
	attr("interface", hclString(in.iface))
	attr("virtual_router_id", fmt.Sprint(in.vrid))
	attr("priority", fmt.Sprint(in.priority))
	attr("version", fmt.Sprint(in.version))
	attr("advert_interval", hclDuration(in.advert))
	if !in.preempt {
		attr("preempt", "false")
	}
	if in.preemptDelay > 0 {
		attr("preempt_delay", hclDuration(in.preemptDelay))
	}
	// keepalived has no fast preemption: a backup waits out
	// Master_Down_Interval before taking over from a weaker master.
	attr("fast_preempt", "false")
	attr("virtual_ips", hclList(hclPrefixes(in.vips)))
	if len(in.excluded) > 0 {
		attr("excluded_ips", hclList(hclPrefixes(in.excluded)))
	}
	if in.useVMAC {
		attr("use_vmac", "true")
		// keepalived's default name is hasidecar's too: written only when
		// it differs.
		def := config.DefaultVMACName(uint8(in.vrid), len(in.vips) > 0 && in.vips[0].Addr().Is6())
		if in.vmacName != "" && in.vmacName != def {
			attr("vmac_interface", hclString(in.vmacName))
		}
		if in.vmacXmitBase {
			attr("vmac_xmit_base", "true")
		}
	}
	if in.unicastSource.IsValid() && len(in.unicastPeers) > 0 {
		attr("unicast_source", hclString(in.unicastSource.String()))
	}
	if len(in.unicastPeers) > 0 {
		peers := make([]string, len(in.unicastPeers))
		for i, p := range in.unicastPeers {
			peers[i] = p.String()
		}
		attr("unicast_peers", hclList(peers))
	}
	if in.authPass != "" {
		attr("auth_pass", hclString(in.authPass))
	}
	emitNotifyAndTracks(b, attr, in.notify, in.notifyState, in.trackChecks, in.trackIfaces)
}

// hclString quotes s as an HCL string literal: escapes, and no template
// interpolation ("${" and "%{" doubled).
func hclString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case (r == '$' || r == '%') && strings.HasPrefix(s[i+size:], "{"):
			b.WriteRune(r)
			b.WriteRune(r)
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\uFFFD`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

func hclList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = hclString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func hclPrefixes(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func hclDuration(d time.Duration) string { return hclString(d.String()) }

func emitGroup(b *strings.Builder, g *group) {
	fmt.Fprintf(b, "\n# vrrp_sync_group %s, %s\n", g.name, g.pos)
	fmt.Fprintf(b, "sync_group %s {\n", hclString(g.name))
	attr := func(k, v string) { fmt.Fprintf(b, "  %-13s = %s\n", k, v) }
	attr("instances", hclList(g.emitted))
	emitNotifyAndTracks(b, attr, g.notify, g.notifyState, g.trackChecks, g.trackIfaces)
}

// emitNotifyAndTracks ends an instance's or a group's block: its notify
// scripts and what it tracks, which both kinds of block take alike.
func emitNotifyAndTracks(b *strings.Builder, attr func(k, v string), notify []string, notifyState map[string][]string,
	checks []trackCheck, ifaces []string) {
	if len(notify) > 0 {
		attr("notify", hclString(notify[0]))
	}
	for _, st := range []string{"master", "backup", "fault", "stop"} {
		if argv, ok := notifyState[st]; ok {
			attr("notify_"+st, hclList(argv))
		}
	}
	for _, tc := range checks {
		fmt.Fprintf(b, "  track_check %s { weight = %d } # %s\n", hclString(tc.check), tc.weight, tc.pos)
	}
	for _, name := range ifaces {
		fmt.Fprintf(b, "  track_interface %s {}\n", hclString(name))
	}
	b.WriteString("}\n")
}
