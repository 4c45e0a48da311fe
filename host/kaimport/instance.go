package kaimport

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hasidecar/hasidecar/host/kaconf"
)

// maxInterfaceName is IFNAMSIZ - 1.
const maxInterfaceName = 15

func (c *converter) instance(st *kaconf.Statement) {
	in := &instance{name: st.Arg(1), pos: st.Pos, preempt: true, notifyState: map[string][]string{}}
	if in.name == "" {
		c.note(st, true, "has no name; keepalived ignores it too")
		return
	}
	var (
		versionSet  bool
		auth        *kaconf.Statement
		authType    string
		authPass    string
		advertSt    *kaconf.Statement
		nopreemptSt *kaconf.Statement
		delaySt     *kaconf.Statement
		srcSt       *kaconf.Statement
		peersSt     *kaconf.Statement
	)
	for _, s := range st.Block {
		switch kw := s.Keyword(); kw {
		case "state":
			switch s.Arg(1) {
			case "MASTER":
				in.stateMaster = true
				in.statePos = s.Pos
			case "BACKUP":
			default:
				c.notef(s, false, "%q is not MASTER or BACKUP; keepalived takes BACKUP", s.Arg(1))
			}
		case "interface":
			in.iface = s.Arg(1)
		case "virtual_router_id":
			n, err := strconv.Atoi(s.Arg(1))
			if err != nil || n < 1 || n > 255 {
				c.notef(s, true, "%q is not 1 to 255; keepalived rejects it: fix it and import again", s.Arg(1))
				continue
			}
			in.vrid = n
		case "priority":
			n, err := strconv.Atoi(s.Arg(1))
			if err != nil || n < 1 || n > 255 {
				c.notef(s, false, "%q is not 1 to 255; keepalived uses %d, and so does the import", s.Arg(1), defaultPriority)
				n = defaultPriority
			}
			in.priority = n
		case "version":
			n, err := strconv.Atoi(s.Arg(1))
			if err != nil || n < 2 || n > 3 {
				c.notef(s, false, "%q is not 2 or 3; keepalived ignores it, and so does the import", s.Arg(1))
				continue
			}
			in.version, versionSet = n, true
		case "advert_int":
			advertSt = s
		case "nopreempt":
			nopreemptSt = s
		case "preempt":
		case "preempt_delay":
			delaySt = s
		case "authentication":
			auth = s
			for _, a := range s.Block {
				switch a.Keyword() {
				case "auth_type":
					authType = a.Arg(1)
				case "auth_pass":
					authPass = a.Arg(1)
					if len(authPass) > authDataLen {
						c.notef(a, false, "%d characters: keepalived uses only the first %d (%q), and so does the import; both nodes then agree", len(authPass), authDataLen, authPass[:authDataLen])
						authPass = authPass[:authDataLen]
					}
				default:
					c.note(a, false, "not an authentication keyword; keepalived ignores it too")
				}
			}
		case "unicast_src_ip", "mcast_src_ip":
			srcSt = s
		case "unicast_peer":
			peersSt = s
		case "virtual_ipaddress":
			in.vips = c.addresses(s, in, in.vips)
		case "virtual_ipaddress_excluded":
			in.excluded = c.addresses(s, in, in.excluded)
		case "track_interface":
			c.trackInterfaces(s, in)
		case "track_script":
			c.trackScripts(s, in)
		case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop":
			c.notify(s, in)
		case "garp_master_repeat", "garp_master_delay":
			n, err := strconv.Atoi(s.Arg(1))
			def := map[string]int{"garp_master_repeat": defaultGarpRepeat, "garp_master_delay": defaultGarpDelay}[kw]
			if err != nil || n != def {
				c.notef(s, false, "hasidecar sends gratuitous ARP as keepalived's defaults (garp_master_repeat 5, garp_master_delay 5); %s is not imported", s.Arg(1))
			}
		case "garp_master_refresh", "garp_master_refresh_repeat", "garp_lower_prio_delay", "garp_lower_prio_repeat", "garp_extra_if", "vmac_garp_intvl":
			c.note(s, false, "hasidecar sends gratuitous ARP on becoming master (5, then 5 more after 5 s) and again when it wins a split brain, without periodic refresh; not imported")
		case "accept":
			// hasidecar adds VIPs as ordinary addresses: traffic to them is accepted.
		case "no_accept":
			c.note(s, false, "hasidecar always accepts traffic to the VIPs (keepalived's accept); block it with the firewall if you must")
		case "dont_track_primary":
			c.note(s, true, "hasidecar always tracks the instance's own interface: its link going down puts the instance in FAULT")
		case "use_vmac":
			in.useVMAC = true
			in.vmacName = s.Arg(1)
		case "vmac_xmit_base":
			in.vmacXmitBase = true
			in.vmacXmitBaseStmt = s
		case "use_vmac_addr", "use_ipvlan":
			c.note(s, true, "not supported: use_vmac makes a macvlan with the RFC's virtual MAC; imported without it, the VIPs are held on the interface itself and gratuitous ARP moves them")
		case "track_file", "track_process", "track_bfd":
			c.note(s, true, "not supported; write a vrrp_script (or a hasidecar check) that tests the same thing and track it instead")
		case "virtual_routes", "virtual_rules":
			c.note(s, true, "routes and rules that follow the master are not supported; add them from a notify_master script, and remove them from notify_backup and notify_fault")
		case "strict_mode":
			c.note(s, true, "strict mode is not imported; hasidecar accepts unicast, authentication and preempt_delay, which strict mode turns off")
		case "mcast_dst_ip":
			c.note(s, true, "hasidecar sends to 224.0.0.18 only; use unicast_peer on both nodes instead")
		case "lvs_sync_daemon_interface":
			c.note(s, false, "LVS is out of scope: nginx is the balancer")
		case "smtp_alert", "debug", "notify_priority_changes", "notify_deleted", "notify_master_rx_lower_pri",
			"unicast_ttl", "check_unicast_src", "skip_check_adv_addr", "lower_prio_no_advert", "higher_prio_send_advert",
			"down_timer_adverts", "kernel_rx_buf_size", "promote_secondaries", "linkbeat_use_polling", "native_ipv6",
			"old_unicast_checksum", "unicast_fault_no_peer", "track_src_ip", "vrf":
			c.note(s, false, "no hasidecar equivalent; hasidecar's behaviour is described in README.md (\"How it behaves\")")
		default:
			c.note(s, false, "not a vrrp_instance keyword; keepalived ignores it too")
		}
	}

	// What keepalived derives once the block is read (vrrp_complete_instance).
	if !versionSet {
		in.version = c.version
		if len(in.vips) > 0 && in.vips[0].Addr().Is6() {
			in.version = 3
		}
	}
	if in.priority == 0 {
		in.priority = defaultPriority
		if in.stateMaster {
			in.priority = ownerPriority
			c.notes = append(c.notes, Note{Pos: in.statePos, Keyword: "state",
				Msg: "MASTER without a priority makes keepalived the address owner (priority 255); so does the import"})
		}
	} else if in.stateMaster {
		c.notes = append(c.notes, Note{Pos: in.statePos, Keyword: "state",
			Msg: "not needed: hasidecar starts as backup and the priorities elect the master, which keepalived's MASTER reaches the same way"})
	}
	if in.vmacXmitBase && !in.useVMAC {
		c.note(in.vmacXmitBaseStmt, false, "ignored without use_vmac, as keepalived ignores it")
	}
	c.advert(in, advertSt)
	c.preempt(in, nopreemptSt, delaySt)
	c.auth(in, auth, authType, authPass)
	c.unicast(in, srcSt, peersSt)
	c.groupWeights(in)

	switch {
	case in.iface == "":
		c.note(st, true, "has no interface; hasidecar needs one: add `interface` and import again")
		in.skip = true
	case len(in.iface) > maxInterfaceName || strings.ContainsAny(in.iface, "/: \t"):
		c.notef(st, true, "interface %q is not a Linux interface name; fix it and import again", in.iface)
		in.skip = true
	case in.vrid == 0:
		c.note(st, true, "has no virtual_router_id; keepalived rejects it: add it and import again")
		in.skip = true
	case len(in.vips) == 0:
		c.note(st, true, "has no usable virtual_ipaddress; hasidecar needs at least one: add it and import again")
		in.skip = true
	}
	for _, other := range c.instances {
		if !in.skip && !other.skip && other.iface == in.iface && other.vrid == in.vrid && other.vips[0].Addr().Is4() == in.vips[0].Addr().Is4() {
			c.notef(st, true, "virtual_router_id %d is already used on %s by %s; keepalived rejects this too: give one of them another VRID", in.vrid, in.iface, other.name)
			in.skip = true
		}
		if other.name == in.name {
			c.notef(st, true, "%s is defined twice; the first is kept", in.name)
			in.skip = true
		}
	}
	c.instances = append(c.instances, in)
}

// advert applies advert_int as keepalived does: decimal seconds, rounded
// to whole seconds for VRRPv2 and to 10 ms for VRRPv3.
func (c *converter) advert(in *instance, s *kaconf.Statement) {
	in.advert = defaultAdvert
	if s != nil {
		d, ok := decimalSeconds(s.Arg(1))
		if !ok || d < 10*time.Millisecond || d > 255*time.Second {
			c.notef(s, false, "%q is not 0.01 to 255 seconds; keepalived ignores it, and so does the import (1 s)", s.Arg(1))
		} else {
			in.advert = d
		}
	}
	var rounded time.Duration
	if in.version == 2 {
		rounded = max((in.advert+time.Second/2)/time.Second*time.Second, time.Second)
	} else {
		rounded = max((in.advert+5*time.Millisecond)/(10*time.Millisecond)*(10*time.Millisecond), 10*time.Millisecond)
		rounded = min(rounded, 4095*10*time.Millisecond)
	}
	if rounded != in.advert && s != nil {
		unit := "10 ms (VRRPv3)"
		if in.version == 2 {
			unit = "whole seconds (VRRPv2; add `version 3` on both nodes for sub-second adverts)"
		}
		c.notef(s, false, "%s s is rounded to %s by keepalived, and so by the import: %s", s.Arg(1), rounded, unit)
	}
	in.advert = rounded
}

// preempt applies nopreempt and preempt_delay with keepalived's rules.
func (c *converter) preempt(in *instance, nopreempt, delay *kaconf.Statement) {
	if delay != nil {
		d, ok := decimalSeconds(delay.Arg(1))
		if !ok || d > 1000*time.Second {
			c.notef(delay, false, "%q is not 0 to 1000 seconds; keepalived uses 0, and so does the import", delay.Arg(1))
		} else {
			in.preemptDelay = d.Truncate(time.Millisecond)
		}
	}
	if nopreempt != nil {
		switch {
		case in.priority == ownerPriority:
			c.note(nopreempt, false, "the address owner (priority 255) always preempts; keepalived clears nopreempt, and so does the import")
		case in.stateMaster:
			c.note(nopreempt, false, "keepalived clears nopreempt with state MASTER, and so does the import: set state BACKUP on both nodes for nopreempt to work")
		default:
			in.preempt = false
			c.note(nopreempt, true, "imported as preempt = false; unlike keepalived, hasidecar still takes over from a master whose priority falls below its own (its check failed), so weights keep working: the VIPs move where keepalived would keep them")
		}
	}
	if in.preemptDelay > 0 {
		switch {
		case in.stateMaster:
			c.note(delay, false, "keepalived clears preempt_delay with state MASTER, and so does the import")
			in.preemptDelay = 0
		case !in.preempt:
			c.note(delay, false, "keepalived ignores preempt_delay with nopreempt, and so does the import")
			in.preemptDelay = 0
		}
	}
}

// auth applies authentication as keepalived does.
func (c *converter) auth(in *instance, st *kaconf.Statement, authType, pass string) {
	if st == nil {
		return
	}
	switch {
	case authType == "AH":
		c.note(st, true, "AH authentication is not supported; use auth_type PASS or none on both nodes (neither protects much: use unicast on a trusted network)")
	case authType != "PASS":
		c.notef(st, false, "auth_type %q is not PASS or AH; keepalived uses no authentication, and so does the import", authType)
	case in.version == 3:
		c.note(st, false, "VRRPv3 has no authentication; keepalived ignores it, and so does the import")
	case pass == "":
		c.note(st, false, "no auth_pass given; keepalived uses no authentication, and so does the import")
	default:
		in.authPass = pass
	}
}

// unicast applies unicast_src_ip / mcast_src_ip and unicast_peer.
func (c *converter) unicast(in *instance, src, peers *kaconf.Statement) {
	if peers != nil {
		for _, p := range peers.Block {
			a, err := netip.ParseAddr(p.Arg(0))
			if err != nil || a.Zone() != "" || !usable(a) {
				c.itemf(peers, p, true, "%q is not a peer's address; keepalived skips it, and so does the import", p.Arg(0))
				continue
			}
			if len(p.Words) > 1 {
				c.itemf(peers, p, false, "per-peer options (min_ttl, max_ttl) are not imported")
			}
			dup := false
			for _, q := range in.unicastPeers {
				dup = dup || q == a
			}
			if !dup {
				in.unicastPeers = append(in.unicastPeers, a)
			}
		}
		if len(in.unicastPeers) == 0 {
			c.note(peers, true, "no usable peer: keepalived falls back to multicast, and so does the import; list the other nodes' addresses for unicast")
		}
	}
	if src == nil {
		return
	}
	a, err := netip.ParseAddr(src.Arg(1))
	switch {
	case err != nil || a.Zone() != "" || !usable(a):
		c.notef(src, false, "%q is not an address; keepalived ignores it, and so does the import", src.Arg(1))
	case len(in.unicastPeers) == 0 && src.Keyword() == "unicast_src_ip":
		c.note(src, false, "without unicast_peer keepalived advertises by multicast, and so does the import; hasidecar sends from the interface's primary address")
	case len(in.unicastPeers) == 0:
		c.note(src, false, "hasidecar sends multicast adverts from the interface's primary address; make this the primary address, or the peer sees another source (it matters only to break a tie of equal priorities)")
	default:
		for i, p := range in.unicastPeers {
			if p == a {
				c.notef(src, false, "%s is also listed as a peer; it is left out of unicast_peers", a)
				in.unicastPeers = append(in.unicastPeers[:i], in.unicastPeers[i+1:]...)
				break
			}
		}
		in.unicastSource = a
	}
}

// addresses reads a virtual_ipaddress(_excluded) block.
func (c *converter) addresses(st *kaconf.Statement, in *instance, into []netip.Prefix) []netip.Prefix {
	for _, line := range st.Block {
		p, ok := parseAddr(line.Arg(0))
		if !ok || !usable(p.Addr()) {
			c.itemf(st, line, true, "%q is not an address hasidecar can hold; keepalived skips it, and so does the import", line.Arg(0))
			continue
		}
		if into != nil && len(into) > 0 && st.Keyword() == "virtual_ipaddress" && into[0].Addr().Is4() != p.Addr().Is4() {
			c.itemf(st, line, true, "%s is of another family than the instance's first VIP; keepalived skips it, and so does the import: put it in an instance of its own", p)
			continue
		}
		for i := 1; i < len(line.Words); i++ {
			opt := line.Words[i]
			switch opt {
			case "dev":
				i++
				if dev := line.Arg(i); dev != in.iface && dev != "" {
					c.itemf(st, line, true, "dev %s: hasidecar holds every VIP on the instance's interface, so %s is imported on %s: it stays in the advertised list, which the keepalived peer checks, but clients on %s will not reach it; give it an instance on %s of its own on both nodes", dev, p, in.iface, dev, dev)
				}
			case "label":
				i++
				c.itemf(st, line, false, "label %s is not imported: the address carries no label", line.Arg(i))
			case "scope":
				i++
				if sc := line.Arg(i); sc != "global" && sc != "" {
					c.itemf(st, line, false, "scope %s is not imported: the address gets scope global", sc)
				}
			case "brd", "broadcast", "preferred_lft":
				i++
				c.itemf(st, line, false, "%s is not imported: the kernel's default is used", opt)
			case "no_track", "home", "nodad", "noprefixroute", "autojoin":
				c.itemf(st, line, false, "%s is not imported", opt)
			default:
				c.itemf(st, line, false, "%q is not an address option keepalived knows; ignored", opt)
			}
		}
		dup := false
		for _, q := range into {
			dup = dup || q.Addr() == p.Addr()
		}
		if dup {
			c.itemf(st, line, false, "%s is listed twice; once is enough", p.Addr())
			continue
		}
		into = append(into, p)
	}
	return into
}

// trackInterfaces reads track_interface { IF [weight N] }.
func (c *converter) trackInterfaces(st *kaconf.Statement, in *instance) {
	for _, line := range st.Block {
		name := line.Arg(0)
		if name == "" || len(name) > maxInterfaceName || strings.ContainsAny(name, "/: \t") {
			c.itemf(st, line, true, "%q is not an interface name; fix it and import again", name)
			continue
		}
		if line.Arg(1) == "weight" {
			w, _ := c.weight(st, line, 2)
			if w != 0 {
				c.itemf(st, line, true, "weight %d is not imported: in hasidecar a tracked link going down puts the instance in FAULT (the VIPs move) instead of changing its priority; to keep the weight, track the link with a check (a script testing /sys/class/net/%s/operstate)", w, name)
			}
		}
		dup := false
		for _, t := range in.trackIfaces {
			dup = dup || t == name
		}
		if !dup {
			in.trackIfaces = append(in.trackIfaces, name)
		}
	}
}

// trackScripts reads track_script { NAME [weight N [reverse]] }.
func (c *converter) trackScripts(st *kaconf.Statement, in *instance) {
	for _, line := range st.Block {
		name := line.Arg(0)
		ch, ok := c.checkByID[name]
		if !ok {
			c.itemf(st, line, true, "vrrp_script %s is not defined before this line; keepalived ignores the line, and so does the import: define it before the instance", name)
			continue
		}
		weight := ch.weight
		if line.Arg(1) == "weight" {
			if w, ok := c.weight(st, line, 2); ok {
				weight = w
			}
			if line.Arg(3) == "reverse" {
				c.itemf(st, line, true, "reverse weights are not supported; rewrite the script to exit non-zero for the opposite condition")
			}
		} else if line.Arg(1) != "" {
			c.itemf(st, line, false, "unknown option %q; keepalived ignores the line, and so does the import", line.Arg(1))
			continue
		}
		dup := false
		for _, t := range in.trackChecks {
			dup = dup || t.check == name
		}
		if dup {
			c.itemf(st, line, false, "%s is tracked twice; keepalived keeps the first, and so does the import", name)
			continue
		}
		in.trackChecks = append(in.trackChecks, trackCheck{check: name, weight: weight, pos: line.Pos})
	}
}

// groupWeights drops weighted scripts where keepalived drops them: in a
// sync group without sync_group_tracking_weight, and on an address owner.
func (c *converter) groupWeights(in *instance) {
	g := c.groupOf(in.name)
	inGroup := g != nil && !g.trackingWeight
	if !inGroup && in.priority != ownerPriority {
		return
	}
	why := "the address owner (priority 255) ignores weights"
	if inGroup {
		why = fmt.Sprintf("keepalived ignores weights in sync group %s (no sync_group_tracking_weight)", g.name)
	}
	kept := in.trackChecks[:0]
	for _, tc := range in.trackChecks {
		if tc.weight != 0 {
			c.notes = append(c.notes, Note{Pos: tc.pos, Keyword: "track_script",
				Msg: fmt.Sprintf("%s: %s, dropping the script; so does the import. Use weight 0 to make a failure a FAULT", tc.check, why)})
			continue
		}
		kept = append(kept, tc)
	}
	in.trackChecks = kept
}

// notify reads notify and notify_STATE lines: the script split as keepalived splits it.
func (c *converter) notify(st *kaconf.Statement, in *instance) {
	argv, rest, err := st.Script()
	if err != nil {
		c.notef(st, true, "cannot split the script as keepalived does (%v); fix the quoting", err)
		return
	}
	argv = c.resolveProgram(st, argv)
	if len(rest) > 0 {
		c.notef(st, false, "the user %s is not imported: notify scripts run as hasidecar's user (root)", rest[0])
	}
	if st.Keyword() == "notify" {
		if len(argv) > 1 {
			c.notef(st, false, "the arguments %q are not imported: hasidecar's notify is a script's path, called as SCRIPT INSTANCE NAME STATE PRIORITY; put them in a wrapper script", argv[1:])
		}
		in.notify = argv
		return
	}
	in.notifyState[strings.TrimPrefix(st.Keyword(), "notify_")] = argv
}
