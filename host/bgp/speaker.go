// Package bgp announces host routes (a VIP as /32 or /128) to BGP peers with
// an embedded GoBGP speaker. It decides nothing: the daemon says which
// prefixes to announce (a VRRP master's VIPs, or every prefix whose checks
// pass), and the speaker keeps its peers told, also after a session comes
// back. It dials its peers and never listens.
package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"go.uber.org/zap"
	apb "google.golang.org/protobuf/types/known/anypb"
)

// Config is the speaker's own identity.
type Config struct {
	ASN      uint32
	RouterID netip.Addr // an IPv4 address, as BGP identifiers are
}

// Peer is one BGP neighbour the speaker dials.
type Peer struct {
	Name     string
	Address  netip.Addr
	ASN      uint32
	Port     uint16        // 0: 179
	Password string        // TCP MD5 signature; empty: none
	HoldTime time.Duration // 0: 90 s (keepalives at a third of it)
}

// Route is one announced prefix and how it is announced.
type Route struct {
	Prefix netip.Prefix
	// MED is the multi-exit discriminator; a backup announcing its VIPs
	// with a higher MED than the master's stays a fallback.
	MED uint32
}

// PeerStatus is what status and metrics show of a session.
type PeerStatus struct {
	Name        string
	Address     string
	ASN         uint32
	State       string // IDLE, CONNECT, ACTIVE, OPENSENT, OPENCONFIRM, ESTABLISHED
	Since       time.Time
	Advertised  uint64
	Established bool
}

// Speaker is a running GoBGP server and what it announces.
type Speaker struct {
	srv *server.BgpServer
	log *zap.Logger
	// done ends the session watch and gives the server back to its engine.
	done func()

	mu      sync.Mutex
	stopped bool // by Stop: the server may already serve the next speaker
	peers   map[string]Peer
	routes  map[netip.Prefix]Route
	up      map[string]bool // peer address -> session established, for logging changes
}

// ErrStopped is the error of a change asked of a stopped speaker.
var ErrStopped = errors.New("bgp: the speaker has stopped")

// Start starts a speaker on a GoBGP server of its own (NewEngine); it dials
// peers as they are added.
func Start(ctx context.Context, cfg Config, log *zap.Logger) (*Speaker, error) {
	return NewEngine(log).Start(ctx, cfg)
}

// start starts BGP on srv, which Serve already runs, and watches its
// sessions until done is called.
func start(ctx context.Context, srv *server.BgpServer, cfg Config, log *zap.Logger, release func()) (*Speaker, error) {
	if !cfg.RouterID.Is4() {
		return nil, fmt.Errorf("bgp: router_id %s must be an IPv4 address", cfg.RouterID)
	}
	err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:      cfg.ASN,
		RouterId: cfg.RouterID.String(),
		// Dial out only: the daemon needs no listening port 179.
		ListenPort: -1,
	}})
	if err != nil {
		_ = srv.StopBgp(context.Background(), &api.StopBgpRequest{})
		return nil, fmt.Errorf("bgp: starting the speaker: %w", err)
	}
	watchCtx, endWatch := context.WithCancel(context.WithoutCancel(ctx))
	s := &Speaker{srv: srv, log: log, peers: map[string]Peer{}, routes: map[netip.Prefix]Route{}, up: map[string]bool{},
		done: func() { endWatch(); release() }}
	// GoBGP logs session changes among its chatter (kept at debug); an
	// operator wants them plainly.
	err = srv.WatchEvent(watchCtx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, s.logPeerEvent)
	if err != nil {
		log.Warn("bgp: watching sessions", zap.Error(err))
	}
	return s, nil
}

// logPeerEvent logs a session reaching or leaving ESTABLISHED (not every
// retry of one that is down).
func (s *Speaker) logPeerEvent(r *api.WatchEventResponse) {
	ev := r.GetPeer()
	if ev == nil || ev.GetType() != api.WatchEventResponse_PeerEvent_STATE {
		return
	}
	p := ev.GetPeer()
	addr := p.GetConf().GetNeighborAddress()
	state := p.GetState().GetSessionState()
	established := state == api.PeerState_ESTABLISHED
	s.mu.Lock()
	name := addr
	for n, pp := range s.peers {
		if pp.Address.String() == addr {
			name = n
		}
	}
	was := s.up[addr]
	s.up[addr] = established
	s.mu.Unlock()
	switch {
	case established && !was:
		s.log.Info("bgp session established", zap.String("peer", name), zap.String("address", addr))
	case !established && was:
		s.log.Warn("bgp session down", zap.String("peer", name), zap.String("address", addr), zap.String("state", state.String()))
	}
}

// SetPeers makes the speaker's peers exactly peers: new ones are dialled,
// gone ones closed, changed ones replaced; unchanged sessions stay up.
func (s *Speaker) SetPeers(ctx context.Context, peers []Peer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	want := map[string]Peer{}
	for _, p := range peers {
		want[p.Name] = p
	}
	var errs []error
	for name, old := range s.peers {
		if p, ok := want[name]; ok && p == old {
			continue
		}
		if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: old.Address.String()}); err != nil {
			errs = append(errs, fmt.Errorf("bgp: removing peer %s: %w", name, err))
		}
		delete(s.peers, name)
		delete(s.up, old.Address.String())
	}
	for name, p := range want {
		if _, ok := s.peers[name]; ok {
			continue
		}
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peerConfig(p)}); err != nil {
			errs = append(errs, fmt.Errorf("bgp: adding peer %s (%s): %w", name, p.Address, err))
			continue
		}
		s.peers[name] = p
	}
	return errors.Join(errs...)
}

func peerConfig(p Peer) *api.Peer {
	hold := p.HoldTime
	if hold <= 0 {
		hold = 90 * time.Second
	}
	// A session carries the routes of its own address family only: GoBGP
	// makes the next hop of a route the session's local address, and an
	// IPv4 address for an IPv6 route goes out IPv4-mapped (::ffff:a.b.c.d),
	// which a router takes as its best path yet cannot install. IPv6 VIPs
	// need a peer at the router's IPv6 address.
	families := []*api.AfiSafi{
		{Config: &api.AfiSafiConfig{Family: family(p.Address.Unmap().Is4()), Enabled: true}},
	}
	return &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: p.Address.String(),
			PeerAsn:         p.ASN,
			AuthPassword:    p.Password,
			Description:     p.Name,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:          uint64(hold / time.Second),
			KeepaliveInterval: uint64(max(hold/3, time.Second) / time.Second),
			// Retry soon: a router that comes back should hear the routes
			// again within seconds, not GoBGP's default two minutes.
			ConnectRetry: 5,
		}},
		Transport: &api.Transport{RemotePort: uint32(p.Port), PassiveMode: false},
		AfiSafis:  families,
	}
}

func family(v4 bool) *api.Family {
	if v4 {
		return &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	}
	return &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
}

// Announce announces r (again, if its MED changed); a prefix already
// announced the same way is left alone.
func (s *Speaker) Announce(ctx context.Context, r Route) error {
	r.Prefix = r.Prefix.Masked()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	if old, ok := s.routes[r.Prefix]; ok && old == r {
		return nil
	}
	path, err := pathOf(r)
	if err != nil {
		return err
	}
	if _, err := s.srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path}); err != nil {
		return fmt.Errorf("bgp: announcing %s: %w", r.Prefix, err)
	}
	s.routes[r.Prefix] = r
	return nil
}

// Withdraw withdraws prefix if it is announced.
func (s *Speaker) Withdraw(ctx context.Context, prefix netip.Prefix) error {
	prefix = prefix.Masked()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	return s.withdrawLocked(ctx, prefix)
}

func (s *Speaker) withdrawLocked(ctx context.Context, prefix netip.Prefix) error {
	r, ok := s.routes[prefix]
	if !ok {
		return nil
	}
	path, err := pathOf(r)
	if err != nil {
		return err
	}
	if err := s.srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Path: path}); err != nil {
		return fmt.Errorf("bgp: withdrawing %s: %w", prefix, err)
	}
	delete(s.routes, prefix)
	return nil
}

// Announced returns the prefixes announced now, sorted.
func (s *Speaker) Announced() []netip.Prefix {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]netip.Prefix, 0, len(s.routes))
	for p := range s.routes {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// pathOf builds GoBGP's path for r. The next hop is left for GoBGP to fill
// with the session's local address (next-hop-self towards eBGP peers), so
// each router is sent the node's address on its own link.
func pathOf(r Route) (*api.Path, error) {
	p := r.Prefix
	nlri, err := apb.New(&api.IPAddressPrefix{Prefix: p.Addr().String(), PrefixLen: uint32(p.Bits())})
	if err != nil {
		return nil, err
	}
	origin, err := apb.New(&api.OriginAttribute{Origin: 0}) // IGP
	if err != nil {
		return nil, err
	}
	attrs := []*apb.Any{origin}
	if p.Addr().Is4() {
		nh, err := apb.New(&api.NextHopAttribute{NextHop: "0.0.0.0"})
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, nh)
	} else {
		mp, err := apb.New(&api.MpReachNLRIAttribute{Family: family(false), NextHops: []string{"::"}, Nlris: []*apb.Any{nlri}})
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, mp)
	}
	if r.MED > 0 {
		med, err := apb.New(&api.MultiExitDiscAttribute{Med: r.MED})
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, med)
	}
	return &api.Path{Family: family(p.Addr().Is4()), Nlri: nlri, Pattrs: attrs}, nil
}

// Peers returns the sessions' state.
func (s *Speaker) Peers(ctx context.Context) ([]PeerStatus, error) {
	s.mu.Lock()
	names := map[string]string{}
	for name, p := range s.peers {
		names[p.Address.String()] = name
	}
	s.mu.Unlock()
	var out []PeerStatus
	err := s.srv.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		st := PeerStatus{Address: p.GetConf().GetNeighborAddress(), ASN: p.GetConf().GetPeerAsn()}
		st.Name = names[st.Address]
		st.State = p.GetState().GetSessionState().String()
		st.Established = p.GetState().GetSessionState() == api.PeerState_ESTABLISHED
		if up := p.GetTimers().GetState().GetUptime(); st.Established && up != nil {
			st.Since = up.AsTime()
		}
		for _, af := range p.GetAfiSafis() {
			st.Advertised += af.GetState().GetAdvertised()
		}
		out = append(out, st)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Stop withdraws every announced prefix, closes the sessions with a
// notification (so that routers drop the routes at once rather than at
// hold-time expiry) and stops the speaker.
func (s *Speaker) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	var errs []error
	withdrew := len(s.routes) > 0
	for p := range s.routes {
		if err := s.withdrawLocked(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	peers := len(s.peers)
	s.mu.Unlock()
	if peers > 0 && withdrew && len(errs) == 0 {
		// Give the UPDATEs a moment to leave before the sessions close.
		time.Sleep(100 * time.Millisecond)
	}
	// GoBGP's stop does not heed ctx; a router that does not answer must
	// not hold up the daemon's exit beyond it.
	done := make(chan error, 1)
	go func() {
		err := s.srv.StopBgp(context.Background(), &api.StopBgpRequest{})
		s.done() // the server is free for the next speaker only once stopped
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp: stopping: %w", err))
		}
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("bgp: stopping: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}
