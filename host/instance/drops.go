package instance

import "github.com/hasidecar/hasidecar/host/drops"

// dropsOf returns the counter the instance counts its drops in: its
// shared socket endpoint's, where the socket's reader counts what the
// instance's queue had no room for, or one of its own.
func dropsOf(conn Conn) *drops.Counter {
	if c, ok := conn.(interface{ Drops() *drops.Counter }); ok {
		return c.Drops()
	}
	return new(drops.Counter)
}
