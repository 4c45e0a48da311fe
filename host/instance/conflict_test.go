package instance

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hasidecar/hasidecar/host/vrrp/packet"
)

func TestDescribeConflict(t *testing.T) {
	peer := netip.MustParseAddr("198.51.100.2")
	vip := netip.MustParseAddr("198.51.100.100")
	want := packet.Expectation{Version: 3, VRID: 51, Interval: time.Second, Addresses: []netip.Addr{vip}}
	v2 := packet.Expectation{Version: 2, VRID: 51, Interval: time.Second, Addresses: []netip.Addr{vip}, AuthType: packet.AuthPass, AuthPass: "secret"}
	tests := []struct {
		name   string
		reason packet.Reason
		ad     packet.Advertisement
		exp    packet.Expectation
		kind   string
		msg    string
	}{
		{"VRRPv2 beside v3", packet.ReasonVersionMismatch, packet.Advertisement{Version: 2, VRID: 51}, want,
			ConflictVersion, "198.51.100.2 speaks VRRPv2 on VRID 51; set version = 2 to pair with it"},
		{"VRRPv3 beside v2", packet.ReasonVersionMismatch, packet.Advertisement{Version: 3, VRID: 51}, v2,
			ConflictVersion, "198.51.100.2 speaks VRRPv3 on VRID 51; set version = 3 to pair with it"},
		{"password", packet.ReasonBadPassword, packet.Advertisement{Version: 2, VRID: 51, AuthType: packet.AuthPass}, v2,
			ConflictAuth, "198.51.100.2 advertises VRID 51 with another auth_pass"},
		{"auth type", packet.ReasonAuthTypeMismatch, packet.Advertisement{Version: 2, VRID: 51, AuthType: packet.AuthNone}, v2,
			ConflictAuth, "198.51.100.2 advertises VRID 51 with authentication"},
		{"interval", packet.ReasonIntervalMismatch, packet.Advertisement{Version: 2, VRID: 51, Interval: 2 * time.Second}, v2,
			ConflictInterval, `198.51.100.2 advertises VRID 51 every 2s, we every 1s; set advert_interval = "2s" to pair with it`},
		{"addresses", packet.ReasonAddressList, packet.Advertisement{Version: 3, VRID: 51, Addresses: []netip.Addr{netip.MustParseAddr("198.51.100.9")}}, want,
			ConflictAddresses, "198.51.100.2 advertises VRID 51 with virtual IPs [198.51.100.9], we have [198.51.100.100]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, msg, ok := describeConflict(tt.reason, &tt.ad, peer, tt.exp)
			if !ok || kind != tt.kind || !strings.Contains(msg, tt.msg) {
				t.Fatalf("got %v %q %q, want %q %q", ok, kind, msg, tt.kind, tt.msg)
			}
		})
	}
	for _, r := range []packet.Reason{packet.ReasonBadTTL, packet.ReasonVRIDMismatch, packet.ReasonMalformed, packet.ReasonWrongDestination} {
		if _, _, ok := describeConflict(r, &packet.Advertisement{}, peer, want); ok {
			t.Errorf("%s is not a configuration conflict", r)
		}
	}
}

// TestConflictLogIsRateLimited: a peer advertising every second logs one
// error a minute, while status counts every advert.
func TestConflictLogIsRateLimited(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	r := &Runner{log: zap.New(core)}
	start := time.Unix(1_000_000, 0)
	for i := 0; i < 120; i++ {
		r.noteConflict(ConflictVersion, "198.51.100.2", "198.51.100.2 speaks VRRPv2 on VRID 51; set version = 2 to pair with it", start.Add(time.Duration(i)*time.Second))
	}
	errs := logs.FilterLevelExact(zap.ErrorLevel).All()
	if len(errs) != 2 || !strings.Contains(errs[0].Message, "speaks VRRPv2") {
		t.Fatalf("%d error lines in 2 minutes, want 2: %v", len(errs), errs)
	}
	st := r.conflictStatusLocked(start.Add(119 * time.Second))
	if len(st) != 1 || st[0].Count != 120 || !st[0].Active {
		t.Fatalf("status %+v", st)
	}
	if st := r.conflictStatusLocked(start.Add(10 * time.Minute)); st[0].Active {
		t.Fatal("a conflict not seen for 8 minutes is still active")
	}
}

// TestConflictsAreBounded: forged sources cannot grow an instance's
// conflict records without end; the oldest goes first.
func TestConflictsAreBounded(t *testing.T) {
	r := &Runner{log: zap.NewNop()}
	t0 := time.Now()
	for i := 0; i < 3*maxConflicts; i++ {
		r.noteConflict("version", fmt.Sprintf("198.51.100.%d", i%250), "x", t0.Add(time.Duration(i)*time.Second))
	}
	if n := len(r.conflicts); n != maxConflicts {
		t.Fatalf("%d records, want %d", n, maxConflicts)
	}
	if _, ok := r.conflicts["version 198.51.100.0"]; ok {
		t.Error("the oldest record was kept")
	}
}
