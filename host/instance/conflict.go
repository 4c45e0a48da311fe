package instance

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/status"
	"github.com/hasidecar/hasidecar/host/vrrp/packet"
)

// Kinds of conflict: a peer on our VRID configured otherwise, or another
// machine owning one of our addresses. Stable, for a metric label.
const (
	ConflictVersion   = "version"
	ConflictAuth      = "auth"
	ConflictInterval  = "interval"
	ConflictAddresses = "addresses"
	ConflictDuplicate = "duplicate_vip"
)

// conflictLogEvery limits the error log to one line per kind and peer in
// this long: a misconfigured peer advertises every second, forever.
const conflictLogEvery = time.Minute

// conflictActive is how long a conflict counts as present after it was
// last seen (status and the metric's gauge).
const conflictActive = 30 * time.Second

// describeConflict says in the operator's words why an advertisement that
// carries our VRID was dropped, when the reason is a configuration that
// differs from ours; ok is false for other drops (malformed, TTL, ...).
func describeConflict(reason packet.Reason, ad *packet.Advertisement, from netip.Addr, want packet.Expectation) (kind, msg string, ok bool) {
	switch reason {
	case packet.ReasonVersionMismatch:
		return ConflictVersion, fmt.Sprintf("%s speaks VRRPv%d on VRID %d; set version = %d to pair with it",
			from, ad.Version, ad.VRID, ad.Version), true
	case packet.ReasonBadPassword:
		return ConflictAuth, fmt.Sprintf("%s advertises VRID %d with another auth_pass; set the same auth_pass on every node",
			from, ad.VRID), true
	case packet.ReasonAuthTypeMismatch:
		return ConflictAuth, fmt.Sprintf("%s advertises VRID %d with authentication %s, we use %s; set auth_pass alike on every node",
			from, ad.VRID, ad.AuthType, want.AuthType), true
	case packet.ReasonIntervalMismatch:
		return ConflictInterval, fmt.Sprintf("%s advertises VRID %d every %v, we every %v; set advert_interval = %q to pair with it",
			from, ad.VRID, ad.Interval, want.Interval, ad.Interval.String()), true
	case packet.ReasonAddressCount, packet.ReasonAddressList:
		return ConflictAddresses, fmt.Sprintf("VRID collision? %s advertises VRID %d with virtual IPs %s, we have %s: give one of the two clusters another virtual_router_id, or make virtual_ips equal",
			from, ad.VRID, addrList(ad.Addresses), addrList(want.Addresses)), true
	}
	return "", "", false
}

// refusedWhy says in a few words what differs in a refused advert, for the
// reason of the takeover it may cause (describeConflict says what to do).
func refusedWhy(reason packet.Reason, ad *packet.Advertisement, want packet.Expectation) string {
	switch reason {
	case packet.ReasonVersionMismatch:
		return fmt.Sprintf("VRRPv%d, ours v%d", ad.Version, want.Version)
	case packet.ReasonBadPassword:
		return "another auth_pass"
	case packet.ReasonAuthTypeMismatch:
		return fmt.Sprintf("authentication %s, ours %s", ad.AuthType, want.AuthType)
	case packet.ReasonIntervalMismatch:
		return fmt.Sprintf("advert_interval %v, ours %v", ad.Interval, want.Interval)
	case packet.ReasonAddressCount, packet.ReasonAddressList:
		return fmt.Sprintf("virtual IPs %s, ours %s", addrList(ad.Addresses), addrList(want.Addresses))
	}
	return string(reason)
}

func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// conflictRecord is what is known of one kind of conflict with one peer.
type conflictRecord struct {
	kind, peer, msg string
	count           uint64
	first, last     time.Time
	logged          time.Time
}

// ReportConflict records a conflict found outside the instance (another MAC
// answering for a VIP) and logs it at error level, at most once a minute
// per kind and peer.
func (r *Runner) ReportConflict(kind, peer, msg string) {
	r.noteConflict(kind, peer, msg, r.clock.Now())
}

// maxConflicts bounds the conflicts an instance remembers (status, metric
// labels): a real misconfiguration names a handful of peers.
const maxConflicts = 64

func (r *Runner) noteConflict(kind, peer, msg string, now time.Time) {
	r.mu.Lock()
	if r.conflicts == nil {
		r.conflicts = map[string]*conflictRecord{}
	}
	key := kind + " " + peer
	c := r.conflicts[key]
	if c == nil {
		if len(r.conflicts) >= maxConflicts {
			// Sources on a shared segment can be forged: forget the one
			// heard from longest ago rather than grow without end.
			var oldest string
			for k, v := range r.conflicts {
				if oldest == "" || v.last.Before(r.conflicts[oldest].last) {
					oldest = k
				}
			}
			delete(r.conflicts, oldest)
		}
		c = &conflictRecord{kind: kind, peer: peer, first: now}
		r.conflicts[key] = c
	}
	c.msg, c.last = msg, now
	c.count++
	logNow := now.Sub(c.logged) >= conflictLogEvery
	if logNow {
		c.logged = now
	}
	n := c.count
	r.mu.Unlock()
	if logNow {
		r.log.Error("conflict: "+msg, zap.String("conflict", kind), zap.String("peer", peer), zap.Uint64("count", n))
	}
}

// conflictStatus lists the conflicts seen lately, for status; the caller
// holds r.mu.
func (r *Runner) conflictStatusLocked(now time.Time) []status.ConflictStatus {
	var out []status.ConflictStatus
	for _, c := range r.conflicts {
		out = append(out, status.ConflictStatus{Kind: c.kind, Peer: c.peer, Message: c.msg, Count: c.count,
			FirstSeen: c.first, LastSeen: c.last, Active: now.Sub(c.last) < conflictActive})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Peer < out[j].Peer
	})
	return out
}
