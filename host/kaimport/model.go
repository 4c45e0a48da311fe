// Package kaimport turns a keepalived.conf into the equivalent hasidecar
// configuration, and lists what it could not carry over.
//
// Values follow what keepalived 2.2.7 would run with, not only what the
// file says: where keepalived silently changes a value (an auth_pass cut to
// 8 characters, a VRRPv2 advert_int rounded to whole seconds, nopreempt
// cleared by state MASTER, weights dropped inside a sync group), the import
// makes the same change and says so, so the imported node behaves as its
// keepalived peer expects.
package kaimport

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/hasidecar/hasidecar/host/kaconf"
)

// Note is one thing the import did not carry over as written, at the
// keepalived line it came from.
type Note struct {
	Pos     kaconf.Pos
	Keyword string
	Msg     string // why, and what to do instead
	// Failover is set when leaving it out (or changing it) can change
	// which node holds the VIPs or when.
	Failover bool
}

func (n Note) String() string {
	return fmt.Sprintf("%s: %s: %s", n.Pos, n.Keyword, n.Msg)
}

// Result is an import: the HCL text and the notes about it.
type Result struct {
	HCL   []byte
	Notes []Note
}

// FailoverLost says whether something that affects failover was not carried over.
func (r *Result) FailoverLost() bool {
	for _, n := range r.Notes {
		if n.Failover {
			return true
		}
	}
	return false
}

// Options control an import.
type Options struct {
	// NodeID chooses the @ID lines (keepalived's -i; default: the host
	// name's first label, which the caller supplies).
	NodeID string
	Files  kaconf.Files
	// LookPath finds a script's program when keepalived would find it
	// through PATH (a name without a slash). Nil leaves such names as they are.
	LookPath func(name string) (string, error)
}

// check is an imported vrrp_script.
type check struct {
	name     string
	pos      kaconf.Pos
	command  []string
	user     string
	interval time.Duration
	timeout  time.Duration
	rise     int
	fall     int
	weight   int // the script's own weight, the default of its track_script lines
	used     bool
}

// trackCheck is an instance's track_script line.
type trackCheck struct {
	check  string
	weight int
	pos    kaconf.Pos
}

// instance is an imported vrrp_instance.
type instance struct {
	name             string
	pos              kaconf.Pos
	iface            string
	vrid             int
	priority         int
	version          int
	advert           time.Duration
	preempt          bool
	preemptDelay     time.Duration
	vips             []netip.Prefix
	excluded         []netip.Prefix
	useVMAC          bool
	vmacName         string            // use_vmac NAME; "" for keepalived's vrrp.VRID
	vmacXmitBase     bool              // vmac_xmit_base: only with use_vmac, as in keepalived
	vmacXmitBaseStmt *kaconf.Statement // where it was, for the note when use_vmac is missing
	unicastSource    netip.Addr
	unicastPeers     []netip.Addr
	authPass         string
	trackChecks      []trackCheck
	trackIfaces      []string
	notify           []string // program and arguments, as keepalived splits them
	notifyState      map[string][]string
	stateMaster      bool
	statePos         kaconf.Pos
	syncGroup        string
	skip             bool // something required is missing: not emitted
	weightedScripts  []trackCheck
}

// group is an imported vrrp_sync_group.
type group struct {
	name           string
	pos            kaconf.Pos
	members        []string
	memberPos      []kaconf.Pos
	trackingWeight bool
	notify         []string
	notifyState    map[string][]string
	trackChecks    []trackCheck
	trackIfaces    []string
	trackScripts   *kaconf.Statement // read once the scripts are known
	emitted        []string          // members that were imported
}
