package kaimport

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hasidecar/hasidecar/host/kaconf"
)

// keepalived's defaults and limits (vrrp.h, vrrp_track.h, global_data.c).
const (
	defaultPriority   = 100
	ownerPriority     = 255
	defaultVersion    = 2 // global_defs vrrp_version
	defaultAdvert     = time.Second
	authDataLen       = 8 // the v2 header's authentication data
	defaultGarpRepeat = 5
	defaultGarpDelay  = 5 // seconds
	maxTrackWeight    = 253
)

// converter holds an import in progress.
type converter struct {
	opts      Options
	notes     []Note
	nodeName  string
	nodePos   kaconf.Pos
	version   int // global vrrp_version
	checks    []*check
	checkByID map[string]*check
	instances []*instance
	groups    []*group
}

// Convert reads the keepalived.conf at path and returns the hasidecar
// configuration that does the same, with a note for everything it did not
// carry over as written.
func Convert(path string, opts Options) *Result {
	c := &converter{opts: opts, version: defaultVersion, checkByID: map[string]*check{}}
	var (
		ids     []string
		matched bool
		firstAt kaconf.Pos
	)
	onConditional := func(id string, match bool, pos kaconf.Pos) {
		if len(ids) == 0 {
			firstAt = pos
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
		matched = matched || match
	}
	stmts, diags := kaconf.Parse(path, kaconf.Options{NodeID: opts.NodeID, Files: opts.Files, OnConditional: onConditional})
	if len(ids) > 0 && !matched {
		// keepalived would run such a file as the default node too; an
		// operator importing it almost always meant one of the ids.
		c.notes = append(c.notes, Note{Pos: firstAt, Keyword: "@" + ids[0], Failover: true,
			Msg: fmt.Sprintf("node id %q matches none of the file's conditional ids (@%s): every @ID line was left out, as keepalived -i %s would; give --node-id with this node's id", opts.NodeID, strings.Join(ids, ", @"), opts.NodeID)})
	}
	for _, d := range diags {
		c.notes = append(c.notes, Note{Pos: d.Pos, Keyword: "syntax", Failover: true,
			Msg: d.Msg + "; keepalived reports this too: fix the file and import it again"})
	}
	// Sync groups and global_defs change how instances are read, wherever
	// they are in the file.
	for _, st := range stmts {
		switch st.Keyword() {
		case "global_defs":
			c.globalDefs(st)
		case "vrrp_sync_group":
			c.syncGroup(st)
		}
	}
	for _, st := range stmts {
		switch kw := st.Keyword(); kw {
		case "global_defs", "vrrp_sync_group":
		case "vrrp_script":
			c.script(st)
		case "vrrp_instance":
			c.instance(st)
		case "virtual_server", "virtual_server_group":
			c.note(st, false, "LVS load balancing is out of scope: nginx is the balancer; keep it in nginx's upstreams (or keep keepalived's checker process for it)")
		case "vrrp_track_process", "vrrp_track_file", "track_file", "track_group", "garp_group", "linkbeat_interfaces", "static_track_group":
			c.note(st, false, "not supported; instances that track it are reported at their own lines")
		case "static_ipaddress", "static_routes", "static_rules":
			c.note(st, false, "static addresses and routes are not managed by hasidecar; configure them with the system's network configuration")
		case "net_namespace", "net_namespace_ipvs", "instance", "use_pid_dir":
			c.note(st, false, "keepalived's process set-up is not imported; run hasidecar in the namespace with `ip netns exec`, under systemd")
		default:
			c.note(st, false, "not a VRRP keyword hasidecar imports; it is left out")
		}
	}
	c.finishGroups()
	for _, in := range c.instances {
		for _, tc := range in.trackChecks {
			if !in.skip {
				c.checkByID[tc.check].used = true
			}
		}
	}
	for _, g := range c.groups {
		for _, tc := range g.trackChecks {
			if len(g.emitted) > 0 {
				c.checkByID[tc.check].used = true
			}
		}
	}
	for _, ch := range c.checks {
		if !ch.used {
			c.notes = append(c.notes, Note{Pos: ch.pos, Keyword: "vrrp_script",
				Msg: fmt.Sprintf("%s is tracked by no imported instance; it is left out", ch.name)})
		}
	}
	sortNotes(c.notes)
	return &Result{HCL: c.emit(path), Notes: c.notes}
}

// note records st as not carried over.
func (c *converter) note(st *kaconf.Statement, failover bool, msg string) {
	c.notes = append(c.notes, Note{Pos: st.Pos, Keyword: st.Keyword(), Msg: msg, Failover: failover})
}

// itemf records a line inside parent's block (a VIP, a peer, a tracked
// script) as not carried over, under parent's keyword.
func (c *converter) itemf(parent, line *kaconf.Statement, failover bool, format string, args ...any) {
	c.notes = append(c.notes, Note{Pos: line.Pos, Keyword: parent.Keyword(), Failover: failover,
		Msg: line.Arg(0) + ": " + fmt.Sprintf(format, args...)})
}

func (c *converter) notef(st *kaconf.Statement, failover bool, format string, args ...any) {
	c.note(st, failover, fmt.Sprintf(format, args...))
}

func (c *converter) globalDefs(st *kaconf.Statement) {
	for _, s := range st.Block {
		switch kw := s.Keyword(); kw {
		case "router_id":
			if s.Arg(1) == "" {
				c.note(s, false, "no value; node_name is left to default to the host name")
				continue
			}
			c.nodeName, c.nodePos = s.Arg(1), s.Pos
		case "vrrp_version":
			n, err := strconv.Atoi(s.Arg(1))
			if err != nil || n < 2 || n > 3 {
				c.notef(s, false, "%q is not 2 or 3; keepalived ignores it, and so does the import (version 2)", s.Arg(1))
				continue
			}
			c.version = n
		case "vrrp_strict":
			c.note(s, true, "strict mode is not imported; hasidecar follows the RFCs' packet rules without it, but accepts unicast, authentication and preempt_delay, which strict mode turns off: check each instance")
		case "vrrp_mcast_group4", "vrrp_mcast_group6":
			c.note(s, true, "hasidecar sends to the RFC's group only (224.0.0.18 / ff02::12); use unicast_peer on both nodes instead")
		case "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat",
			"vrrp_garp_interval", "vrrp_gna_interval", "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_min_garp":
			c.note(s, false, "hasidecar sends gratuitous ARP as keepalived's defaults do (5 at once, 5 more after 5 s) and again when it wins a split brain; this setting is not imported")
		case "enable_script_security", "script_user":
			c.note(s, false, "hasidecar's script plugin always refuses scripts a non-root user could change, and runs scripts as the check's `user`; set user in each check's config if needed")
		case "vrrp_higher_prio_send_advert", "vrrp_lower_prio_no_advert", "vrrp_skip_check_adv_addr", "vrrp_check_unicast_src",
			"vrrp_no_swap", "vrrp_priority", "vrrp_rt_priority", "vrrp_rlimit_rtime", "vrrp_iptables", "vrrp_ipsets", "nftables",
			"vrrp_notify_fifo", "vrrp_notify_fifo_script", "notify_fifo", "notify_fifo_script", "vrrp_startup_delay", "vrrp_netlink_cmd_rcv_bufs",
			"vrrp_netlink_monitor_rcv_bufs", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier", "vrrp_notify_priority_changes", "vrrp_cpu_affinity":
			c.note(s, false, "a keepalived tuning option with no hasidecar equivalent; hasidecar's behaviour is described in README.md (\"How it behaves\")")
		default:
			// Mail, SNMP, LVS and process options: nothing VRRP does depends on them.
			c.note(s, false, "not used by hasidecar (mail, SNMP, LVS and process options have no equivalent); left out")
		}
	}
}

func (c *converter) syncGroup(st *kaconf.Statement) {
	g := &group{name: st.Arg(1), pos: st.Pos, notifyState: map[string][]string{}}
	if g.name == "" {
		c.note(st, true, "has no name; keepalived ignores it too")
		return
	}
	for _, s := range st.Block {
		switch s.Keyword() {
		case "group":
			for _, m := range s.Block {
				for _, w := range m.Words {
					g.members = append(g.members, w)
					g.memberPos = append(g.memberPos, m.Pos)
				}
			}
		case "sync_group_tracking_weight", "global_tracking":
			g.trackingWeight = true
		case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop":
			argv, rest, err := s.Script()
			if err != nil {
				c.notef(s, true, "cannot split the script as keepalived does (%v); fix the quoting", err)
				continue
			}
			argv = c.resolveProgram(s, argv)
			if len(rest) > 0 {
				c.notef(s, false, "the user %s is not imported: notify scripts run as hasidecar's user (root)", rest[0])
			}
			if s.Keyword() == "notify" {
				if len(argv) > 1 {
					c.notef(s, false, "the arguments %q are not imported: hasidecar's notify is a script's path, called as SCRIPT GROUP NAME STATE 0; put them in a wrapper script", argv[1:])
				}
				g.notify = argv
			} else {
				g.notifyState[strings.TrimPrefix(s.Keyword(), "notify_")] = argv
			}
		case "track_interface":
			in := &instance{name: g.name}
			c.trackInterfaces(s, in)
			g.trackIfaces = in.trackIfaces
		case "track_script":
			g.trackScripts = s // scripts may be defined after the group
		case "smtp_alert", "notify_priority_changes":
			c.note(s, false, "no hasidecar equivalent; left out")
		default:
			c.note(s, false, "not a vrrp_sync_group keyword hasidecar imports; left out")
		}
	}
	c.groups = append(c.groups, g)
}

// finishGroups resolves the groups' members and tracked scripts once every
// instance is read.
func (c *converter) finishGroups() {
	for _, g := range c.groups {
		for i, m := range g.members {
			var in *instance
			for _, x := range c.instances {
				if x.name == m {
					in = x
				}
			}
			switch {
			case in == nil:
				c.notes = append(c.notes, Note{Pos: g.memberPos[i], Keyword: "vrrp_sync_group", Failover: true,
					Msg: fmt.Sprintf("%s: no vrrp_instance has this name; keepalived ignores it, and so does the import", m)})
			case in.skip:
				c.notes = append(c.notes, Note{Pos: g.memberPos[i], Keyword: "vrrp_sync_group", Failover: true,
					Msg: fmt.Sprintf("%s: the instance is not imported (see its line), so the group goes without it", m)})
			case slices.Contains(g.emitted, m):
			default:
				g.emitted = append(g.emitted, m)
			}
		}
		if g.trackScripts != nil {
			in := &instance{name: g.name}
			c.trackScripts(g.trackScripts, in)
			for _, tc := range in.trackChecks {
				if tc.weight != 0 && !g.trackingWeight {
					c.notes = append(c.notes, Note{Pos: tc.pos, Keyword: "track_script",
						Msg: fmt.Sprintf("%s: keepalived ignores weights in sync group %s (no sync_group_tracking_weight), dropping the script; so does the import. Use weight 0 to make a failure a FAULT", tc.check, g.name)})
					continue
				}
				g.trackChecks = append(g.trackChecks, tc)
			}
		}
		if len(g.emitted) == 0 {
			c.notes = append(c.notes, Note{Pos: g.pos, Keyword: "vrrp_sync_group", Failover: true,
				Msg: fmt.Sprintf("%s has no imported member; it is left out", g.name)})
		}
	}
}

// groupOf is the sync group an instance belongs to, or nil.
func (c *converter) groupOf(name string) *group {
	for _, g := range c.groups {
		for _, m := range g.members {
			if m == name {
				return g
			}
		}
	}
	return nil
}

func (c *converter) script(st *kaconf.Statement) {
	name := st.Arg(1)
	if name == "" {
		c.note(st, false, "has no name; keepalived ignores it too")
		return
	}
	ch := &check{name: name, pos: st.Pos, interval: time.Second, rise: 1, fall: 1}
	var timeoutSet bool
	for _, s := range st.Block {
		switch s.Keyword() {
		case "script":
			argv, rest, err := s.Script()
			if err != nil {
				c.notef(s, true, "cannot split the script as keepalived does (%v); fix the quoting", err)
				continue
			}
			if sh, why := shellScript(s); sh != nil {
				ch.command = sh
				c.note(s, false, why)
			} else {
				ch.command = c.resolveProgram(s, argv)
			}
			if len(rest) > 0 {
				ch.user = rest[0]
			}
		case "interval":
			if n, ok := c.seconds(s); ok {
				ch.interval = time.Duration(n) * time.Second
			}
		case "timeout":
			if n, ok := c.seconds(s); ok {
				ch.timeout = time.Duration(n) * time.Second
				timeoutSet = true
			}
		case "rise", "fall":
			n, err := strconv.Atoi(s.Arg(1))
			if err != nil || n < 1 {
				c.notef(s, false, "%q is not a whole number from 1; keepalived uses 1, and so does the import", s.Arg(1))
				n = 1
			}
			if s.Keyword() == "rise" {
				ch.rise = n
			} else {
				ch.fall = n
			}
		case "weight":
			w, ok := c.weight(s, s, 1)
			if ok {
				ch.weight = w
			}
			if s.Arg(2) == "reverse" {
				c.note(s, true, "reverse weights are not supported; rewrite the script to exit non-zero for the opposite condition and use the weight without reverse")
			}
		case "user":
			ch.user = s.Arg(1)
			if s.Arg(2) != "" {
				c.note(s, false, "the group is not imported: the script runs with the user's own group")
			}
		case "init_fail":
			c.note(s, false, "hasidecar's checks start unknown and the first result decides at once; init_fail is not needed")
		default:
			c.note(s, false, "not a vrrp_script keyword; keepalived ignores it too")
		}
	}
	if len(ch.command) == 0 {
		c.note(st, false, "has no script; keepalived removes it, and so does the import")
		return
	}
	if !timeoutSet || ch.timeout > ch.interval {
		// keepalived lets a run last the interval when no timeout is set,
		// and lets a longer timeout overlap runs; hasidecar needs a run to
		// end before the next is due.
		if timeoutSet {
			c.notes = append(c.notes, Note{Pos: ch.pos, Keyword: "timeout",
				Msg: fmt.Sprintf("%s: timeout %s is longer than the interval %s; hasidecar ends a run by the next one, so the timeout is the interval: a script slower than that counts as failing", name, ch.timeout, ch.interval)})
		}
		ch.timeout = ch.interval
	}
	if _, dup := c.checkByID[name]; dup {
		c.notef(st, false, "%s is defined twice; the first definition is kept", name)
		return
	}
	c.checkByID[name] = ch
	c.checks = append(c.checks, ch)
}

// resolveProgram makes a script's program an absolute path, found through
// PATH as keepalived finds it, because hasidecar runs scripts without a
// shell or PATH.
func (c *converter) resolveProgram(st *kaconf.Statement, argv []string) []string {
	if strings.Contains(argv[0], "/") || c.opts.LookPath == nil {
		if !strings.HasPrefix(argv[0], "/") {
			c.notef(st, true, "%s is not an absolute path; hasidecar runs programs without a shell or PATH: give the program's full path (wrap shell syntax in /bin/sh -c '…')", argv[0])
		}
		return argv
	}
	full, err := c.opts.LookPath(argv[0])
	if err != nil {
		c.notef(st, true, "%s is not found in PATH here; replace it with the program's absolute path on the node", argv[0])
		return argv
	}
	out := append([]string{full}, argv[1:]...)
	return out
}

// seconds reads a whole number of seconds from 1, as keepalived's
// interval and timeout (0 is taken as 1, as keepalived does).
func (c *converter) seconds(s *kaconf.Statement) (int, bool) {
	n, err := strconv.Atoi(s.Arg(1))
	switch {
	case err != nil || n < 0:
		c.notef(s, false, "%q is not a whole number of seconds; keepalived ignores it, and so does the import", s.Arg(1))
		return 0, false
	case n == 0:
		c.note(s, false, "0 is taken as 1 second, as keepalived does")
		return 1, true
	case n > 86400:
		c.notef(s, false, "%d s is longer than hasidecar's limit of a day; a day is used", n)
		return 86400, true
	}
	return n, true
}

// weight reads words[i] of line s, in block parent (s itself for a
// keyword line), as a weight in -253..253 (keepalived turns ±254 into ±253).
func (c *converter) weight(parent, s *kaconf.Statement, i int) (int, bool) {
	note := c.notef
	if parent != s {
		note = func(s *kaconf.Statement, failover bool, format string, args ...any) {
			c.itemf(parent, s, failover, format, args...)
		}
	}
	w, err := strconv.Atoi(s.Arg(i))
	if err != nil || w < -254 || w > 254 {
		note(s, true, "weight %q is not a number from -253 to 253; keepalived ignores it, and so does the import", s.Arg(i))
		return 0, false
	}
	if w == 254 || w == -254 {
		note(s, false, "weight %d is taken as %d, as keepalived does", w, w/254*maxTrackWeight)
		w = w / 254 * maxTrackWeight
	}
	return w, true
}

// decimalSeconds reads keepalived's decimal seconds ("1", "0.5", "1.25")
// as a duration in microseconds, as read_decimal_unsigned does.
func decimalSeconds(s string) (time.Duration, bool) {
	if s == "" || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return 0, false
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseUint(whole, 10, 32)
	if err != nil || len(frac) > 6 {
		return 0, false
	}
	var f uint64
	if frac != "" {
		if f, err = strconv.ParseUint(frac, 10, 32); err != nil {
			return 0, false
		}
		f *= uint64(math.Pow10(6 - len(frac)))
	}
	if w > math.MaxInt32 {
		return 0, false
	}
	return time.Duration(w)*time.Second + time.Duration(f)*time.Microsecond, true
}

// parseAddr reads a keepalived address: a.b.c.d[/len] or an IPv6 address,
// a bare address being a host route.
func parseAddr(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p, err == nil && p.Addr().Zone() == ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

func usable(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// sortNotes orders notes by line within each file, files in the order
// they were first noted, so the report reads top to bottom.
func sortNotes(notes []Note) {
	order := map[string]int{}
	for _, n := range notes {
		if _, ok := order[n.Pos.File]; !ok {
			order[n.Pos.File] = len(order)
		}
	}
	sort.SliceStable(notes, func(i, j int) bool {
		a, b := notes[i].Pos, notes[j].Pos
		if a.File != b.File {
			return order[a.File] < order[b.File]
		}
		return a.Line < b.Line
	})
}
