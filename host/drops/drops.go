// Package drops counts received VRRP packets that were dropped, by reason,
// in one place: the socket's reader (a packet that is not ours to look at),
// the instance's queue (its loop fell behind) and the instance's checks
// (the codec's validation reasons, package packet). Every reason is known
// up front, so that each appears at 0 in metrics before anything is
// dropped, and counting is one atomic add: a shared socket's reader counts
// on behalf of 200 instances.
package drops

import (
	"fmt"
	"sync/atomic"

	"github.com/hasidecar/hasidecar/host/vrrp/packet"
)

// Reason says why a received packet was dropped. Its String is the stable
// label metrics and status use.
type Reason uint8

// Socket-level reasons and the queue's: the validation reasons follow them,
// one for each of packet.Reasons() (see Of).
const (
	// OwnSource is a packet from our own source address: our advert
	// looped back, or another host using our address.
	OwnSource Reason = iota
	// OtherInterface is a packet that arrived on another interface than
	// the socket's.
	OtherInterface
	// BadIPHeader is a packet whose IP header could not be parsed, or whose
	// total length disagrees with what arrived.
	BadIPHeader
	// QueueFull is an advert the instance's loop had no room for.
	QueueFull

	firstValidation // packet.Reasons() follow, in its order
)

// maxReasons sizes a Counter: room for the reasons above and the codec's
// (19 today).
const maxReasons = 32

// names is every reason's label, indexed by Reason; byPacket maps the
// codec's reasons to ours. Both are fixed at start and only read.
var names, byPacket = reasonTables()

func reasonTables() ([]string, map[packet.Reason]Reason) {
	names := []string{
		OwnSource:      "own source",
		OtherInterface: "other interface",
		BadIPHeader:    "bad ip header",
		QueueFull:      "receive queue full",
	}
	byPacket := map[packet.Reason]Reason{}
	for _, pr := range packet.Reasons() {
		byPacket[pr] = Reason(len(names))
		names = append(names, string(pr))
	}
	if len(names) > maxReasons {
		// Only a change to the codec's list can get here; every test of
		// this package would fail at once.
		panic(fmt.Sprintf("drops: %d reasons, room for %d", len(names), maxReasons))
	}
	return names, byPacket
}

// Of returns the Reason of one of the codec's drop reasons. A reason the
// codec does not list (it never returns one) counts as packet.ReasonMalformed.
func Of(r packet.Reason) Reason {
	if d, ok := byPacket[r]; ok {
		return d
	}
	return byPacket[packet.ReasonMalformed]
}

func (r Reason) String() string {
	if int(r) < len(names) {
		return names[r]
	}
	return fmt.Sprintf("reason %d", r)
}

// All returns every reason, in a fixed order.
func All() []Reason {
	out := make([]Reason, len(names))
	for i := range out {
		out[i] = Reason(i)
	}
	return out
}

// SocketReasons are the reasons a socket's reader counts, before it knows
// which instance a packet is for: what is not ours to look at, and the
// validation reason of a packet that no instance on the socket serves (its
// VRID is another router's, or it does not decode), counted once there
// rather than once per instance.
func SocketReasons() []Reason {
	out := []Reason{OwnSource, OtherInterface, BadIPHeader}
	for _, r := range packet.DecodeReasons() {
		out = append(out, Of(r))
	}
	return append(out, Of(packet.ReasonVRIDMismatch))
}

// InstanceReasons are the reasons an instance counts: its own packets
// looped back, its full queue, and every validation reason but another
// VRID's (a packet of another VRID never reaches the instance: its socket
// counts it).
func InstanceReasons() []Reason {
	out := []Reason{OwnSource, QueueFull}
	vridMismatch := Of(packet.ReasonVRIDMismatch)
	for r := firstValidation; int(r) < len(names); r++ {
		if r != vridMismatch {
			out = append(out, r)
		}
	}
	return out
}

// Counter counts drops by reason. Its zero value is ready; it is safe for
// concurrent use and must not be copied once used.
type Counter struct {
	n [maxReasons]atomic.Uint64
}

// Add counts one drop and returns how many of that reason there are now.
func (c *Counter) Add(r Reason) uint64 { return c.n[r].Add(1) }

// Count returns how many drops of r there were.
func (c *Counter) Count(r Reason) uint64 { return c.n[r].Load() }

// NonZero returns the reasons counted at least once, by label; nil when
// none was.
func (c *Counter) NonZero() map[string]uint64 {
	var out map[string]uint64
	for i := range names {
		if v := c.n[i].Load(); v > 0 {
			if out == nil {
				out = map[string]uint64{}
			}
			out[names[i]] = v
		}
	}
	return out
}
