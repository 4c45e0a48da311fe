package daemon

import (
	"reflect"
	"testing"

	"github.com/hasidecar/hasidecar/host/status"
)

// Two sockets alike (same interface, source and mode) would be two metric
// series with the same labels, which fails the whole scrape.
func TestMergeAlikeSockets(t *testing.T) {
	got := mergeAlike([]status.SocketStatus{
		{Interface: "eth0", Source: "198.51.100.1", Multicast: false, Dropped: map[string]uint64{"own source": 2}},
		{Interface: "eth0", Source: "198.51.100.1", Multicast: true},
		{Interface: "eth0", Source: "198.51.100.1", Multicast: false, Dropped: map[string]uint64{"own source": 3, "bad ip header": 1}},
		{Interface: "eth1", Source: "198.51.100.9"},
	})
	want := []status.SocketStatus{
		{Interface: "eth0", Source: "198.51.100.1", Multicast: false, Dropped: map[string]uint64{"own source": 5, "bad ip header": 1}},
		{Interface: "eth0", Source: "198.51.100.1", Multicast: true},
		{Interface: "eth1", Source: "198.51.100.9"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeAlike =\n%+v\nwant\n%+v", got, want)
	}
}
