package packet

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

// FuzzUnmarshal feeds the decoder arbitrary bytes, as a flood of forged
// packets would: it must never panic, and whatever it accepts must encode
// back to the same message and survive Check.
func FuzzUnmarshal(f *testing.F) {
	for _, g := range golden {
		f.Add(g.wire, g.dst == group)
	}
	f.Add([]byte{}, true)
	f.Add([]byte{0x31, 51, 150, 200, 0, 10, 0, 0}, true)
	f.Add(bytes.Repeat([]byte{0xff}, 64), false)
	f.Fuzz(func(t *testing.T, b []byte, multicast bool) {
		dst := peer
		if multicast {
			dst = group
		}
		ad, err := Unmarshal(b, src, dst)
		_ = ReasonOf(err)
		if err != nil {
			return
		}
		_ = Check(ad, 255, Expectation{Version: ad.Version, VRID: ad.VRID, AuthType: ad.AuthType, AuthPass: "x",
			Interval: time.Second, Addresses: []netip.Addr{vip1}, Multicast: multicast})
		if ad.AuthType == AuthAH {
			return // accepted on the wire, but we never send it
		}
		out, err := ad.Marshal(src, dst)
		if err != nil {
			t.Fatalf("accepted % x but cannot re-encode %+v: %v", b, ad, err)
		}
		// What may differ: the v3 reserved bits (ignored on reception) and a
		// checksum sent as 0xffff, the other one's-complement zero.
		want := append([]byte(nil), b...)
		if ad.Version == 3 {
			want[4] &= 0x0f
		}
		if want[6] == 0xff && want[7] == 0xff {
			want[6], want[7] = 0, 0
		}
		if ad.Version == 3 && (b[4]&0xf0) != 0 {
			want[6], want[7] = out[6], out[7] // the checksum covered the reserved bits
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("re-encoding differs:\n in % x\nout % x", b, out)
		}
	})
}
