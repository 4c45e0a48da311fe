package bgp

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"go.uber.org/zap/zaptest"
)

// globalPaths counts the prefixes in srv's global RIB.
func globalPaths(t *testing.T, s *Speaker) int {
	t.Helper()
	n := 0
	for _, f := range []*api.Family{{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, {Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}} {
		err := s.srv.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: f},
			func(*api.Destination) { n++ })
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestEngineReusesItsServer: a reload that removes the bgp block and adds it
// again starts a speaker on the same GoBGP server (whose Serve loop never
// returns), with nothing of the previous speaker's announcements, and a
// stopped speaker changes nothing any more. Twenty cycles leave no
// goroutines behind.
func TestEngineReusesItsServer(t *testing.T) {
	ctx := context.Background()
	e := NewEngine(zaptest.NewLogger(t))
	cfg := Config{ASN: 65010, RouterID: netip.MustParseAddr("198.51.100.1")}
	vip := netip.MustParsePrefix("203.0.113.10/32")

	s1, err := e.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	waited := time.Now()
	if _, err := e.Start(ctx, cfg); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second speaker while the first runs: %v, want ErrBusy", err)
	}
	if d := time.Since(waited); d < busyWait {
		t.Fatalf("gave up after %v, want it to wait %v for the first to stop", d, busyWait)
	}
	if err := s1.Announce(ctx, Route{Prefix: vip}); err != nil {
		t.Fatal(err)
	}
	if n := globalPaths(t, s1); n != 1 {
		t.Fatalf("%d paths announced, want 1", n)
	}
	if err := s1.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s1.Announce(ctx, Route{Prefix: vip}); !errors.Is(err, ErrStopped) {
		t.Fatalf("announcing on a stopped speaker: %v, want ErrStopped", err)
	}

	s2, err := e.Start(ctx, Config{ASN: 65020, RouterID: netip.MustParseAddr("198.51.100.2")})
	if err != nil {
		t.Fatalf("starting again on the same engine: %v", err)
	}
	if s2.srv != s1.srv {
		t.Fatal("the second speaker got a new GoBGP server")
	}
	if n := globalPaths(t, s2); n != 0 {
		t.Fatalf("the new speaker starts with %d of the old one's paths", n)
	}
	// A start while the previous speaker is stopping waits for it.
	go func() {
		time.Sleep(200 * time.Millisecond)
		s2.Stop(ctx)
	}()
	s3, err := e.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("a start while the previous speaker stops: %v", err)
	}
	if err := s3.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	goroutines := func() int {
		// Goroutines that end on a stop need a moment to return.
		time.Sleep(50 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	before := goroutines()
	for i := 0; i < 20; i++ {
		s, err := e.Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Announce(ctx, Route{Prefix: vip}); err != nil {
			t.Fatal(err)
		}
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if after := goroutines(); after > before+2 {
		t.Fatalf("%d goroutines after 20 start/stop cycles, %d before", after, before)
	}
}
