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
	with := func(e Expectation, f func(*Expectation)) Expectation {
		e.Addresses = append([]netip.Addr(nil), e.Addresses...)
		f(&e)
		return e
	}
	unicast3 := with(v3, func(e *Expectation) { e.Multicast = false })
	unicast2 := with(v2, func(e *Expectation) { e.Multicast = false })
	long := with(v2, func(e *Expectation) { e.AuthPass = "secret1-and-more" })
	none := with(v2, func(e *Expectation) { e.AuthType, e.AuthPass = AuthNone, "" })

	tests := []struct {
		name string
		ad   *Advertisement
		ttl  uint8
		want Expectation
		r    Reason
	}{
		{"v2 all good", good2(nil), 255, v2, ReasonNone},
		{"v3 all good", good3(nil), 255, v3, ReasonNone},
		{"priority 0 is not a drop", good3(func(a *Advertisement) { a.Priority = 0 }), 255, v3, ReasonNone},

		{"another VRID", good3(func(a *Advertisement) { a.VRID = 52 }), 255, v3, ReasonVRIDMismatch},
		{"another VRID beats a bad TTL", good3(func(a *Advertisement) { a.VRID = 52 }), 1, v3, ReasonVRIDMismatch},

		{"TTL 254 multicast", good3(nil), 254, v3, ReasonBadTTL},
		{"TTL 0 multicast", good2(nil), 0, v2, ReasonBadTTL},
		{"bad TTL beats the version", good3(nil), 254, v2, ReasonBadTTL},
		{"v3 TTL 254 unicast accepted, as keepalived", good3(nil), 254, unicast3, ReasonNone},
		{"v2 TTL 64 unicast accepted, as keepalived", good2(nil), 64, unicast2, ReasonNone},

		{"v3 received, v2 configured", good3(nil), 255, v2, ReasonVersionMismatch},
		{"v2 received, v3 configured", good2(func(a *Advertisement) { a.Addresses = []netip.Addr{vip1} }), 255, v3, ReasonVersionMismatch},

		{"v2 auth none received, PASS configured", good2(func(a *Advertisement) { a.AuthType, a.AuthData = AuthNone, [8]byte{} }), 255, v2, ReasonAuthTypeMismatch},
		{"v2 PASS received, none configured", good2(nil), 255, none, ReasonAuthTypeMismatch},
		{"v2 AH received, PASS configured", good2(func(a *Advertisement) { a.AuthType = AuthAH }), 255, v2, ReasonAuthTypeMismatch},
		{"wrong password", good2(func(a *Advertisement) { a.AuthData = [8]byte{'s', 'e', 'c', 'r', 'e', 't', '2'} }), 255, v2, ReasonBadPassword},
		{"password with a trailing byte", good2(func(a *Advertisement) { a.AuthData = [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1', 'x'} }), 255, v2, ReasonBadPassword},
		{"password compared on all 8 bytes", good2(func(a *Advertisement) { a.AuthData = [8]byte{'s', 'e', 'c', 'r', 'e', 't'} }), 255, v2, ReasonBadPassword},
		{"long password compared on its first 8 bytes", good2(func(a *Advertisement) { a.AuthData, _ = Password("secret1-") }), 255, long, ReasonNone},
		{"auth none ignores the data", good2(func(a *Advertisement) { a.AuthType = AuthNone; a.AuthData = [8]byte{1, 2, 3} }), 255, none, ReasonNone},
		{"AH unsupported", good2(func(a *Advertisement) { a.AuthType = AuthAH }), 255, with(v2, func(e *Expectation) { e.AuthType = AuthAH }), ReasonAuthUnsupported},
		{"v3 ignores the configured auth", good3(nil), 255, with(v3, func(e *Expectation) { e.AuthType, e.AuthPass = AuthPass, "secret1" }), ReasonNone},

		{"v2 interval mismatch", good2(func(a *Advertisement) { a.Interval = 2 * time.Second }), 255, v2, ReasonIntervalMismatch},
		{"v3 other interval accepted", good3(func(a *Advertisement) { a.Interval = 100 * time.Millisecond }), 255, v3, ReasonNone},

		{"address count: one more", good3(func(a *Advertisement) { a.Addresses = []netip.Addr{vip1, vip2} }), 255, v3, ReasonAddressCount},
		{"address count: none", good2(func(a *Advertisement) { a.Addresses = nil }), 255, v2, ReasonAddressCount},
		{"address list", good3(func(a *Advertisement) { a.Addresses = []netip.Addr{vip2} }), 255, v3, ReasonAddressList},
		{"address list: duplicate instead of ours", good2(func(a *Advertisement) { a.Addresses = []netip.Addr{vip1, vip1} }), 255, v2, ReasonAddressList},
		{"addresses in another order", good2(func(a *Advertisement) { a.Addresses = []netip.Addr{vip2, vip1} }), 255, v2, ReasonNone},
		{"no addresses on either side", good3(func(a *Advertisement) { a.Addresses = nil }), 255, with(v3, func(e *Expectation) { e.Addresses = nil }), ReasonNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := Check(tt.ad, tt.ttl, tt.want); r != tt.r {
				t.Fatalf("Check = %q, want %q", r, tt.r)
			}
		})
	}
}

// TestCheckKeepalivedAdverts decodes the captured keepalived advertisements
// and checks them against the configuration keepalived was running.
func TestCheckKeepalivedAdverts(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		dst  netip.Addr
		want Expectation
	}{
		{"v2 PASS", captured[0].wire, group, Expectation{Version: 2, VRID: 51, AuthType: AuthPass, AuthPass: "secret1",
			Interval: time.Second, Addresses: []netip.Addr{vip2, vip1}, Multicast: true}},
		{"v2 none", captured[2].wire, group, Expectation{Version: 2, VRID: 61, Interval: time.Second,
			Addresses: []netip.Addr{vip1}, Multicast: true}},
		{"v2 truncated PASS", captured[4].wire, group, Expectation{Version: 2, VRID: 62, AuthType: AuthPass,
			AuthPass: "secret1-and-more", Interval: time.Second, Addresses: []netip.Addr{vip2}, Multicast: true}},
		{"v3 multicast", captured[5].wire, group, Expectation{Version: 3, VRID: 52, Interval: time.Second,
			Addresses: []netip.Addr{vip3}, Multicast: true}},
		// Received by the peer: the IP destination is its own address.
		{"v3 unicast", captured[7].wire, peer, Expectation{Version: 3, VRID: 53, Interval: time.Second,
			Addresses: []netip.Addr{vip4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ad, err := Unmarshal(tt.wire, src, tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			if r := CheckDestination(tt.dst, tt.want); r != ReasonNone {
				t.Fatalf("CheckDestination = %q", r)
			}
			if r := Check(ad, TTL, tt.want); r != ReasonNone {
				t.Fatalf("Check = %q", r)
			}
		})
	}
}

func TestCheckDestination(t *testing.T) {
	mc := Expectation{Multicast: true}
	uc := Expectation{}
	tests := []struct {
		name string
		dst  netip.Addr
		want Expectation
		r    Reason
	}{
		{"multicast instance, 224.0.0.18", group, mc, ReasonNone},
		{"multicast instance, unicast", peer, mc, ReasonWrongDestination},
		{"unicast instance, unicast", peer, uc, ReasonNone},
		{"unicast instance, 224.0.0.18", group, uc, ReasonWrongDestination},
		{"unicast instance, another group", netip.MustParseAddr("239.1.2.3"), uc, ReasonWrongDestination},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := CheckDestination(tt.dst, tt.want); r != tt.r {
				t.Fatalf("CheckDestination(%v, multicast=%v) = %q, want %q", tt.dst, tt.want.Multicast, r, tt.r)
			}
		})
	}
}

func TestReasons(t *testing.T) {
	all := []Reason{
		ReasonTooShort, ReasonBadVersion, ReasonBadType, ReasonLengthMismatch,
		ReasonBadChecksum, ReasonBadInterval, ReasonBadVRID, ReasonUnknownAuthType,
		ReasonMalformed, ReasonVRIDMismatch, ReasonBadTTL, ReasonWrongDestination,
		ReasonVersionMismatch, ReasonAuthTypeMismatch, ReasonAuthUnsupported,
		ReasonBadPassword, ReasonIntervalMismatch, ReasonAddressCount, ReasonAddressList,
	}
	listed := map[Reason]int{}
	for _, r := range Reasons() {
		listed[r]++
	}
	for r, n := range listed {
		if n != 1 {
			t.Errorf("%q listed %d times", r, n)
		}
	}
	if listed[ReasonNone] != 0 {
		t.Error("ReasonNone is listed")
	}
	for _, r := range all {
		if listed[r] == 0 {
			t.Errorf("%q missing", r)
		}
	}
	if len(listed) != len(all) {
		t.Errorf("Reasons has %d distinct values, want %d", len(listed), len(all))
	}
}
