package packet

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

// FuzzUnmarshal feeds the decoder arbitrary bytes, as a flood of forged
// packets would: it must never panic, every error must have a drop reason,
// and whatever it accepts must survive Check and encode back to the same
// message.
func FuzzUnmarshal(f *testing.F) {
	for _, g := range append(golden[:len(golden):len(golden)], captured...) {
		f.Add(g.wire, g.dst == group, false)
	}
	for _, g := range captured6 {
		f.Add(g.wire, g.dst.IsMulticast(), true)
	}
	f.Add([]byte{}, true, false)
	f.Add([]byte{0x31, 51, 150, 200, 0, 10, 0, 0}, true, false)        // count too high
	f.Add([]byte{0x21, 51, 150, 0, 3, 1, 0, 0}, true, false)           // v2 without auth data
	f.Add([]byte{0x31, 51, 150, 0, 0xf0, 0, 0xf3, 0xe7}, false, false) // reserved bits, interval 0, valid sum for the peer
	f.Add(bytes.Repeat([]byte{0xff}, 64), false, false)
	f.Add([]byte{0x21, 51, 150, 1, 0, 1, 0, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, true, true) // v2 over IPv6
	f.Add([]byte{0x31, 51, 150, 1, 0, 100, 0, 0, 198, 51, 100, 100}, true, true)                                                          // IPv4 width over IPv6

	f.Fuzz(func(t *testing.T, b []byte, multicast, v6 bool) {
		src, dst := src, peer
		if v6 {
			src, dst = src6, peer6
		}
		if multicast {
			dst = Group(src)
		}
		checkDecoded(t, b, src, dst)
		// Random bytes rarely carry a valid checksum; repair it so that the
		// checks after the checksum get fuzzed too.
		if len(b) >= headerLen {
			version := uint8(2)
			if b[0]>>4 == 3 {
				version = 3
			}
			fixed := append([]byte(nil), b...)
			s := rfc1071(version, fixed, src, dst)
			fixed[6], fixed[7] = byte(s>>8), byte(s)
			checkDecoded(t, fixed, src, dst)
		}
	})
}

// checkDecoded is FuzzUnmarshal's property for one message received from
// src at dst.
func checkDecoded(t *testing.T, b []byte, src, dst netip.Addr) {
	t.Helper()
	multicast := dst.IsMulticast()
	ad, err := Unmarshal(b, src, dst)
	if err != nil {
		if ad != nil {
			t.Fatalf("Unmarshal returned %+v with %v", ad, err)
		}
		if r := ReasonOf(err); r == ReasonNone {
			t.Fatalf("no drop reason for %v", err)
		} else if !slices.Contains(DecodeReasons(), r) {
			t.Fatalf("decoding error %v gives %q, not one of DecodeReasons", err, r)
		}
		return
	}
	if ReasonOf(err) != ReasonNone {
		t.Fatal("drop reason without an error")
	}
	for _, ttl := range []uint8{0, TTL} {
		for _, want := range []Expectation{
			{Version: ad.Version, VRID: ad.VRID, AuthType: ad.AuthType, AuthPass: string(ad.AuthData[:]),
				Interval: ad.Interval, Addresses: ad.Addresses, Multicast: multicast},
			{Version: 2, VRID: 51, AuthType: AuthPass, AuthPass: "secret1", Interval: time.Second,
				Addresses: []netip.Addr{vip1}, Multicast: !multicast},
		} {
			_ = Check(ad, ttl, want)
			_ = CheckDestination(dst, want)
		}
	}

	out, err := ad.Marshal(src, dst)
	if ad.AuthType == AuthAH {
		// Accepted on the wire (keepalived knows the type), never sent.
		if !errors.Is(err, ErrAuthUnsupported) {
			t.Fatalf("Marshal of AH: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("accepted % x but cannot re-encode %+v: %v", b, ad, err)
	}
	// What may differ, as documented: the v3 reserved bits (ignored on
	// reception, sent as zero), and a checksum received as 0xffff, the
	// other one's-complement zero, which is sent as 0x0000.
	want := append([]byte(nil), b...)
	reserved := ad.Version == 3 && b[4]&0xf0 != 0
	if reserved {
		want[4] &= 0x0f
		// The checksum covered the reserved bits; check it afresh.
		s := rfc1071(3, want, src, dst)
		want[6], want[7] = byte(s>>8), byte(s)
	} else if want[6] == 0xff && want[7] == 0xff {
		want[6], want[7] = 0, 0
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("re-encoding differs:\n in % x\nout % x\nwant % x", b, out, want)
	}
	again, err := Unmarshal(out, src, dst)
	if err != nil || !reflect.DeepEqual(again, ad) {
		t.Fatalf("re-encoded message decodes to %+v, %v; want %+v", again, err, ad)
	}
}
