package bgp

import (
	"net/netip"
	"testing"

	api "github.com/osrg/gobgp/v3/api"
)

func TestPathOf(t *testing.T) {
	for _, tt := range []struct {
		route  Route
		afi    api.Family_Afi
		attrs  int
		prefix string
	}{
		{Route{Prefix: netip.MustParsePrefix("203.0.113.10/32")}, api.Family_AFI_IP, 2, "203.0.113.10"},
		{Route{Prefix: netip.MustParsePrefix("203.0.113.10/32"), MED: 200}, api.Family_AFI_IP, 3, "203.0.113.10"},
		{Route{Prefix: netip.MustParsePrefix("2001:db8:52::10/128")}, api.Family_AFI_IP6, 2, "2001:db8:52::10"},
	} {
		p, err := pathOf(tt.route)
		if err != nil {
			t.Fatal(err)
		}
		var nlri api.IPAddressPrefix
		if err := p.Nlri.UnmarshalTo(&nlri); err != nil {
			t.Fatal(err)
		}
		if p.Family.Afi != tt.afi || len(p.Pattrs) != tt.attrs || nlri.Prefix != tt.prefix || int(nlri.PrefixLen) != tt.route.Prefix.Bits() {
			t.Errorf("%v: family %v, %d attributes, NLRI %s/%d", tt.route, p.Family.Afi, len(p.Pattrs), nlri.Prefix, nlri.PrefixLen)
		}
	}
}

// TestPeerConfigCarriesItsOwnFamily: an IPv4 session offers IPv4 unicast
// only and an IPv6 session IPv6 unicast only, so that no route goes out
// with a next hop of the other family.
func TestPeerConfigCarriesItsOwnFamily(t *testing.T) {
	for _, tt := range []struct {
		addr string
		afi  api.Family_Afi
	}{
		{"198.51.100.1", api.Family_AFI_IP},
		{"2001:db8:51::1", api.Family_AFI_IP6},
	} {
		p := peerConfig(Peer{Name: "tor1", Address: netip.MustParseAddr(tt.addr), ASN: 65000})
		if len(p.AfiSafis) != 1 || p.AfiSafis[0].Config.Family.Afi != tt.afi ||
			p.AfiSafis[0].Config.Family.Safi != api.Family_SAFI_UNICAST || !p.AfiSafis[0].Config.Enabled {
			t.Errorf("peer at %s offers %v; want %v unicast alone", tt.addr, p.AfiSafis, tt.afi)
		}
	}
}
