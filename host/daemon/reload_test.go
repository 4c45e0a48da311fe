package daemon

import (
	"reflect"
	"testing"

	"github.com/hasidecar/hasidecar/host/health"
)

func TestGoneFaults(t *testing.T) {
	old := []health.Track{{Check: "nginx", Weight: 0}, {Check: "disk", Weight: -20}, {Check: "dns", Weight: 0}}
	next := []health.Track{{Check: "nginx", Weight: -60}, {Check: "dns", Weight: 0}}
	got := goneFaults(old, []string{"eth0", "eth1"}, next, []string{"eth0"})
	want := []string{"check nginx failing", "link eth1 down"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("goneFaults = %q, want %q", got, want)
	}
}
