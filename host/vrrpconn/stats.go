package vrrpconn

import "github.com/hasidecar/hasidecar/host/drops"

// Stats counts what Receive read and what it dropped before the caller
// saw it.
type Stats struct {
	// Delivered counts packets returned by Receive.
	Delivered uint64
	// Own counts packets whose source is our Source(): our own adverts, or
	// another host using our address. Dropped. Linux drops such packets
	// itself unless the interface has accept_local set, so this is a guard
	// rather than a routine path.
	Own uint64
	// OtherInterface counts packets that arrived on another interface than
	// Options.Interface. Dropped; SO_BINDTODEVICE should make it stay zero.
	OtherInterface uint64
	// Malformed counts packets whose IP header could not be parsed or
	// whose total length disagrees with what arrived. Dropped.
	Malformed uint64
}

// Stats returns the counters of what Receive read so far.
func (c *Conn) Stats() Stats {
	return Stats{
		Delivered:      c.delivered.Load(),
		Own:            c.dropped.Count(drops.OwnSource),
		OtherInterface: c.dropped.Count(drops.OtherInterface),
		Malformed:      c.dropped.Count(drops.BadIPHeader),
	}
}

// Drops returns the counter of the packets the socket dropped before any
// instance saw them (drops.SocketReasons): on a shared socket they belong
// to no instance yet.
func (c *Conn) Drops() *drops.Counter { return &c.dropped }

// Drops returns the counter of the instance behind this endpoint: the
// reader counts in it the packets its full queue had no room for, and the
// instance everything else it drops.
func (e *Endpoint) Drops() *drops.Counter { return &e.dropped }
