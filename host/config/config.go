// Package config loads and validates hasidecar's HCL configuration file.
//
// Loading is one pass that parses, decodes, applies defaults and validates; every
// problem comes back as an hcl.Diagnostic whose Subject is the exact attribute,
// value or block at fault, so FormatDiagnostics can print "file:line:col". A file
// with any error yields a nil *Config: nothing half-valid reaches the daemon.
// Warnings come with a valid *Config. Diagnostics are sorted by position.
//
// Defaults (chosen to match what an operator of keepalived expects):
//
//	key                               default
//	node_name                         the host name (os.Hostname)
//	plugin_dir                        the directory of the running executable
//	log_level                         "info"      (debug | info | warn | error)
//	log_format                        "json"      (json | console)
//	control.socket                    "/run/hasidecar/hasidecar.sock"
//	control.group                     none: status, reload and maintenance for root only
//	state_dir                         "/var/lib/hasidecar"
//	metrics                           absent: no metrics listener
//	check.interval                    "1s"        (keepalived vrrp_script interval)
//	check.timeout                     the check's interval; must not exceed it
//	check.rise                        1           (keepalived vrrp_script rise)
//	check.fall                        1           (keepalived vrrp_script fall)
//	check.config                      an empty body
//	vrrp_instance.version             3
//	vrrp_instance.advert_interval     "1s"
//	vrrp_instance.preempt             true
//	vrrp_instance.preempt_delay       "0s"        (0 to 1000s, as keepalived)
//	vrrp_instance.fast_preempt        true        (take over from a lower-priority master after Skew_Time)
//	vrrp_instance.track_check.weight  0           (FAULT while the check fails)
//
// Rules beyond types and ranges, each with its reason:
//
//   - timeout <= interval: a check must finish before the next one is due, or
//     runs would pile up behind a hung target.
//   - v2 advert_interval is whole seconds 1s..255s (the RFC 3768 field is an 8-bit
//     count of seconds); v3 is 10ms..40.95s in 10ms steps (RFC 5798's 12-bit
//     count of centiseconds).
//   - auth_pass is the RFC 2338 simple password carried in the v2 header's
//     8-byte authentication data: at most 8 bytes (keepalived truncates
//     silently; we reject). On a v3 instance it is ignored with a warning and
//     Instance.AuthPass stays empty, as keepalived ignores it; DESIGN.md's own
//     example sets it with version = 3, so it cannot be an error.
//   - track_check weight -253..253, as keepalived's track_script; with
//     priority = 255 (address owner) the weight must be 0, as keepalived requires.
//   - two instances may not share a virtual_router_id on one interface, unless
//     one is IPv4 and the other IPv6 (two protocols, as keepalived allows).
//   - an instance's virtual_ips are of one family, which decides whether it
//     speaks VRRP over IPv4 or IPv6; IPv6 needs VRRPv3. excluded_ips may be
//     of either family. A first IPv6 VIP that is not link-local gets a
//     warning (RFC 5798 5.2.9), not an error, as in keepalived.
package config

import (
	"net/netip"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Default values applied when the file leaves a key out.
const (
	DefaultConfigPath     = "/etc/hasidecar/hasidecar.hcl"
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "json"
	DefaultControlSocket  = "/run/hasidecar/hasidecar.sock"
	DefaultStateDir       = "/var/lib/hasidecar"
	DefaultCheckInterval  = time.Second
	DefaultCheckRise      = 1
	DefaultCheckFall      = 1
	DefaultVersion        = 3
	DefaultAdvertInterval = time.Second
	DefaultPreempt        = true
	DefaultFastPreempt    = true
)

// Config is a fully decoded, defaulted and validated configuration file.
type Config struct {
	// Path is the file's absolute path (empty for Parse of bytes): a
	// reload re-reads it whatever the caller's working directory.
	Path      string
	NodeName  string
	PluginDir string
	LogLevel  string // debug | info | warn | error
	LogFormat string // json | console
	Control   Control
	Metrics   *Metrics // nil when the file has no metrics block
	Checks    []Check
	// PluginPins maps a plugin name to the sha256 its binary must have
	// (`plugin "NAME" { sha256 = "…" }`); a mismatching binary is refused.
	PluginPins map[string]string
	Instances  []Instance
	// SyncGroups move their member instances together (keepalived's
	// vrrp_sync_group). Their track_check and track_interface blocks are
	// already merged into each member's.
	SyncGroups []SyncGroup
	// StateDir keeps what must survive a restart (maintenance mode).
	StateDir string
	// BGP is the embedded speaker; nil when the file has no bgp block.
	BGP          *BGP
	BGPAnnounces []BGPAnnounce
}

// Control configures the Unix socket that status and reload talk to.
type Control struct {
	Socket string
	Group  string // may read status; empty: root only
}

// Metrics configures the Prometheus listener.
type Metrics struct {
	Listen string // "host:port"; an empty host means every address
}

// Check is one health check, run by the plugin named Plugin.
type Check struct {
	Name     string
	Plugin   string
	Interval time.Duration
	Timeout  time.Duration
	Rise     int // consecutive passes to become healthy
	Fall     int // consecutive failures to become unhealthy

	// Config is the check's raw `config {}` body, left undecoded so that it can be
	// validated against the plugin's own schema, keeping file positions. It is
	// never nil: without a config block it is an empty body whose missing-item
	// range is the check block, so "missing required argument" lands there.
	Config hcl.Body

	DeclRange   hcl.Range // the `check "NAME"` header
	PluginRange hcl.Range // the plugin value, for "plugin not found" diagnostics
}

// Instance is one VRRP virtual router.
type Instance struct {
	Name           string
	Interface      string
	VRID           uint8
	Priority       uint8 // 255 = address owner
	Version        uint8 // 2 (RFC 3768) or 3 (RFC 5798)
	AdvertInterval time.Duration
	Preempt        bool
	PreemptDelay   time.Duration
	// FastPreempt: with Preempt, a backup that hears a master advertising a
	// lower priority than its own takes over after Skew_Time, as after a
	// resignation, instead of waiting out Master_Down_Interval. The higher
	// priority wins either way; this only shortens the decision.
	FastPreempt bool
	VirtualIPs  []netip.Prefix // one family; a bare address in the file means /32 or /128
	// ExcludedIPs are held with the VirtualIPs but never advertised
	// (keepalived's virtual_ipaddress_excluded); either family.
	ExcludedIPs []netip.Prefix
	// UseVMAC holds the addresses on a macvlan with the RFC's virtual MAC
	// (keepalived's use_vmac).
	UseVMAC bool
	// VMACXmitBase sends and receives adverts on the base interface, from
	// its own MAC, while the addresses stay on the macvlan (keepalived's
	// vmac_xmit_base). Only with UseVMAC.
	VMACXmitBase bool
	// VMACInterface names the macvlan (keepalived's `use_vmac NAME`); ""
	// for vrrp.VRID (vrrp6.VRID). Only with UseVMAC.
	VMACInterface   string
	UnicastSource   netip.Addr   // zero when unset
	UnicastPeers    []netip.Addr // empty means multicast to 224.0.0.18 or ff02::12
	AuthPass        string       // VRRPv2 simple password; empty when unset
	TrackChecks     []TrackCheck
	TrackInterfaces []string
	Notify          string // absolute path of the transition script; empty when unset
	// NotifyMaster, NotifyBackup, NotifyFault and NotifyStop run on
	// entering that state (keepalived's notify_*): the program, an absolute
	// path, and its arguments. Nil when unset.
	NotifyMaster, NotifyBackup, NotifyFault, NotifyStop []string
	// Announce is "bgp" when the master announces the VIPs over BGP.
	Announce      string
	AnnounceRange hcl.Range
	// BackupMED: with Announce, a backup announces the VIPs with this MED
	// (the master's is 0) instead of withdrawing them; 0: withdraw.
	BackupMED uint32

	DeclRange hcl.Range // the `vrrp_instance "NAME"` header
}

// TrackCheck ties an instance's priority to a check, with keepalived's weight
// semantics: < 0 added while failing, > 0 added while passing, 0 means FAULT
// while failing.
type TrackCheck struct {
	Check     string
	Weight    int
	DeclRange hcl.Range
}

// HostDefaults are the defaults that come from the running host rather than
// from constants. Tests pass fixed values; Load and Parse use SystemDefaults.
type HostDefaults struct {
	NodeName  string // used when node_name is absent
	PluginDir string // used when plugin_dir is absent
}
