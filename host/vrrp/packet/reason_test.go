package packet

import (
	"net/netip"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	v2 := Expectation{Version: 2, VRID: 51, AuthType: AuthPass, AuthPass: "secret1", Interval: time.Second,
		Addresses: []netip.Addr{vip1, vip2}, Multicast: true}
	v3 := Expectation{Version: 3, VRID: 51, Interval: time.Second, Addresses: []netip.Addr{vip1}, Multicast: true}
	good2 := func(f func(*Advertisement)) *Advertisement {
		a := Advertisement{Version: 2, VRID: 51, Priority: 100, Interval: time.Second, Addresses: []netip.Addr{vip1, vip2},
			AuthType: AuthPass, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1'}}
		if f != nil {
			f(&a)
		}
		return &a
	}
	good3 := func(f func(*Advertisement)) *Advertisement {
		a := Advertisement{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addresses: []netip.Addr{vip1}}
		if f != nil {
			f(&a)
		}
		return &a
	}
	unicast := v3
	unicast.Multicast = false
	long := v2
	long.AuthPass = "secret1-and-more"
	longAd := good2(func(a *Advertisement) { a.AuthData, _ = Password("secret1-and-more") })
	none := v2
	none.AuthType, none.AuthPass = AuthNone, ""

	tests := []struct {
		name string
		ad   *Advertisement
		ttl  uint8
		want Expectation
		r    Reason
	}{
		{"v2 all good", good2(nil), 255, v2, ReasonNone},
		{"v3 all good", good3(nil), 255, v3, ReasonNone},
		{"another VRID", good3(func(a *Advertisement) { a.VRID = 52 }), 255, v3, ReasonVRIDMismatch},
		{"TTL 254 multicast", good3(nil), 254, v3, ReasonBadTTL},
		{"TTL 64 unicast is accepted, as keepalived", good3(nil), 64, unicast, ReasonNone},
		{"version mismatch", good3(nil), 255, v2, ReasonVersionMismatch},
		{"auth type mismatch", good2(func(a *Advertisement) { a.AuthType = AuthNone }), 255, v2, ReasonAuthTypeMismatch},
		{"wrong password", good2(func(a *Advertisement) { a.AuthData = [8]byte{'s', 'e', 'c', 'r', 'e', 't', '2'} }), 255, v2, ReasonBadPassword},
		{"long password compared on 8 bytes", longAd, 255, long, ReasonNone},
		{"auth none ignores the data", good2(func(a *Advertisement) { a.AuthType = AuthNone; a.AuthData = [8]byte{1, 2, 3} }), 255, none, ReasonNone},
		{"AH unsupported", good2(func(a *Advertisement) { a.AuthType = AuthAH }), 255, func() Expectation { e := v2; e.AuthType = AuthAH; return e }(), ReasonAuthUnsupported},
		{"v2 interval mismatch", good2(func(a *Advertisement) { a.Interval = 2 * time.Second }), 255, v2, ReasonIntervalMismatch},
		{"v3 other interval accepted", good3(func(a *Advertisement) { a.Interval = 100 * time.Millisecond }), 255, v3, ReasonNone},
		{"address count", good3(func(a *Advertisement) { a.Addresses = []netip.Addr{vip1, vip2} }), 255, v3, ReasonAddressCount},
		{"address list", good3(func(a *Advertisement) { a.Addresses = []netip.Addr{vip2} }), 255, v3, ReasonAddressList},
		{"addresses in another order", good2(func(a *Advertisement) { a.Addresses = []netip.Addr{vip2, vip1} }), 255, v2, ReasonNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := Check(tt.ad, tt.ttl, tt.want); r != tt.r {
				t.Fatalf("Check = %q, want %q", r, tt.r)
			}
		})
	}
}

func TestCheckDestination(t *testing.T) {
	mc := Expectation{Multicast: true}
	uc := Expectation{}
	tests := []struct {
		dst  netip.Addr
		want Expectation
		r    Reason
	}{
		{group, mc, ReasonNone},
		{peer, mc, ReasonWrongDestination},
		{peer, uc, ReasonNone},
		{group, uc, ReasonWrongDestination},
	}
	for _, tt := range tests {
		if r := CheckDestination(tt.dst, tt.want); r != tt.r {
			t.Errorf("CheckDestination(%v, multicast=%v) = %q, want %q", tt.dst, tt.want.Multicast, r, tt.r)
		}
	}
}

func TestReasonsAreDistinct(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if r == ReasonNone || seen[r] {
			t.Errorf("reason %q is empty or listed twice", r)
		}
		seen[r] = true
	}
	if len(seen) < 19 {
		t.Errorf("only %d reasons", len(seen))
	}
}
