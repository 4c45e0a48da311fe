package daemon

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/hasidecar/hasidecar/host/status"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// sharedSockets keeps one VRRP socket per interface, mode and source for all
// the instances that use it (see vrrpconn.Demux).
type sharedSockets struct {
	mu   sync.Mutex
	open map[vrrpconn.Options]*vrrpconn.Demux
}

// join returns an endpoint for vrid on the socket opts describes, opening the
// socket if no instance uses it yet.
func (s *sharedSockets) join(ctx context.Context, opts vrrpconn.Options, vrid uint8) (*vrrpconn.Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if dm := s.open[opts]; dm != nil {
		e, err := dm.Join(vrid)
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, vrrpconn.ErrDemuxClosed) {
			return nil, err
		}
	}
	conn, err := vrrpconn.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	if s.open == nil {
		s.open = map[vrrpconn.Options]*vrrpconn.Demux{}
	}
	dm := vrrpconn.NewDemux(conn)
	s.open[opts] = dm
	return dm.Join(vrid)
}

// status describes the open sockets, with their drops, sorted by interface
// and source.
func (s *sharedSockets) status() []status.SocketStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []status.SocketStatus
	for opts, dm := range s.open {
		if dm.Closed() {
			continue
		}
		c := dm.Conn()
		all = append(all, status.SocketStatus{Interface: c.Interface(), Source: c.Source().String(),
			Multicast: opts.Multicast, Dropped: c.Drops().NonZero()})
	}
	out := mergeAlike(all)
	slices.SortFunc(out, func(a, b status.SocketStatus) int {
		// Multicast first: the usual socket, then unicast ones.
		if c := cmp.Or(cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.Source, b.Source)); c != 0 || a.Multicast == b.Multicast {
			return c
		}
		if a.Multicast {
			return -1
		}
		return 1
	})
	return out
}

// mergeAlike makes sockets that describe alike one line (and so one metric
// series), their drops added up: a unicast instance without unicast_source
// and one naming the interface's address open a socket each.
func mergeAlike(all []status.SocketStatus) []status.SocketStatus {
	type alike struct {
		iface, source string
		multicast     bool
	}
	at := map[alike]int{}
	var out []status.SocketStatus
	for _, sk := range all {
		key := alike{sk.Interface, sk.Source, sk.Multicast}
		i, ok := at[key]
		if !ok {
			at[key] = len(out)
			sk.Dropped = maps.Clone(sk.Dropped)
			out = append(out, sk)
			continue
		}
		for r, n := range sk.Dropped {
			if out[i].Dropped == nil {
				out[i].Dropped = map[string]uint64{}
			}
			out[i].Dropped[r] += n
		}
	}
	return out
}
