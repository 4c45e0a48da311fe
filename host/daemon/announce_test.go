package daemon

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/hasidecar/hasidecar/host/bgp"
	"github.com/hasidecar/hasidecar/host/vrrp"
)

func TestDesiredRoutes(t *testing.T) {
	vip := []netip.Prefix{netip.MustParsePrefix("198.51.100.100/24"), netip.MustParsePrefix("2001:db8:51::100/64")}
	any := []netip.Prefix{netip.MustParsePrefix("203.0.113.100/32")}
	r := func(p string, med uint32) bgp.Route { return bgp.Route{Prefix: netip.MustParsePrefix(p), MED: med} }
	tests := []struct {
		name      string
		instances []vrrpAnnouncer
		anycast   []anycastAnnouncer
		want      []bgp.Route
	}{
		{"master announces host routes", []vrrpAnnouncer{{state: vrrp.Master, vips: vip}}, nil,
			[]bgp.Route{r("198.51.100.100/32", 0), r("2001:db8:51::100/128", 0)}},
		{"backup withdraws", []vrrpAnnouncer{{state: vrrp.Backup, vips: vip}}, nil, nil},
		{"a link-local VIP is never announced", []vrrpAnnouncer{{state: vrrp.Master, vips: []netip.Prefix{netip.MustParsePrefix("fe80::100/64"), vip[1]}}}, nil,
			[]bgp.Route{r("2001:db8:51::100/128", 0)}},
		{"backup with a MED stays a fallback", []vrrpAnnouncer{{state: vrrp.Backup, vips: vip[:1], backupMED: 100, fit: true}}, nil,
			[]bgp.Route{r("198.51.100.100/32", 100)}},
		{"a backup whose checks fail is no fallback", []vrrpAnnouncer{{state: vrrp.Backup, vips: vip[:1], backupMED: 100}}, nil, nil},
		{"fault withdraws even with a backup MED", []vrrpAnnouncer{{state: vrrp.Fault, vips: vip, backupMED: 100}}, nil, nil},
		{"init withdraws", []vrrpAnnouncer{{state: vrrp.Init, vips: vip}}, nil, nil},
		{"healthy anycast", nil, []anycastAnnouncer{{prefixes: any, healthy: true}}, []bgp.Route{r("203.0.113.100/32", 0)}},
		{"failing anycast", nil, []anycastAnnouncer{{prefixes: any, healthy: false}}, nil},
		{"the better MED wins", []vrrpAnnouncer{
			{state: vrrp.Backup, vips: []netip.Prefix{netip.MustParsePrefix("203.0.113.100/32")}, backupMED: 100, fit: true},
		}, []anycastAnnouncer{{prefixes: any, healthy: true}}, []bgp.Route{r("203.0.113.100/32", 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := desiredRoutes(tt.instances, tt.anycast)
			want := map[netip.Prefix]bgp.Route{}
			for _, w := range tt.want {
				want[w.Prefix] = w
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}
