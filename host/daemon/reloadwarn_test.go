package daemon

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/hasidecar/hasidecar/host/config"
)

func vips(ps ...string) func(*config.Instance) {
	return func(ic *config.Instance) {
		ic.VirtualIPs = nil
		for _, p := range ps {
			ic.VirtualIPs = append(ic.VirtualIPs, netip.MustParsePrefix(p))
		}
	}
}

// TestReloadWarnsOfAChangedAdvertisedList: a reload that changes what an
// instance advertises splits a pair until the other nodes reload, and the
// operator must hear it; what is not advertised changes nothing on the wire.
func TestReloadWarnsOfAChangedAdvertisedList(t *testing.T) {
	running := []runningInstance{{ic: vi("VI_1")}}
	tests := []struct {
		name string
		next config.Instance
		warn bool
	}{
		{"unchanged", vi("VI_1"), false},
		{"a VIP added", vi("VI_1", vips("198.51.100.100/24", "198.51.100.101/24")), true},
		{"a VIP replaced", vi("VI_1", vips("198.51.100.101/24")), true},
		{"only the prefix length", vi("VI_1", vips("198.51.100.100/32")), false},
		{"an excluded_ip added", vi("VI_1", func(ic *config.Instance) {
			ic.ExcludedIPs = []netip.Prefix{netip.MustParsePrefix("198.51.100.101/24")}
		}), false},
		{"a VIP added to a replaced instance", vi("VI_1", vips("198.51.100.100/24", "198.51.100.101/24"),
			func(ic *config.Instance) { ic.Version = 2 }), true},
		{"renamed, same VIPs", vi("VI_renamed"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planReload(running, nil, &config.Config{}, &config.Config{Instances: []config.Instance{tt.next}}, nil)
			w := p.warnings()
			if !tt.warn {
				if len(w) != 0 {
					t.Errorf("warnings %q, want none", w)
				}
				return
			}
			if len(w) != 1 || !strings.HasPrefix(w[0], "instance "+tt.next.Name+": virtual_ips changed;") ||
				!strings.Contains(w[0], "reload the other nodes now") || !strings.Contains(w[0], "excluded_ips") {
				t.Errorf("warnings %q, want one naming %s", w, tt.next.Name)
			}
		})
	}

	two := []runningInstance{{ic: vi("VI_1", vips("198.51.100.100/24", "198.51.100.101/24"))}}
	p := planReload(two, nil, &config.Config{}, &config.Config{Instances: []config.Instance{vi("VI_1", vips("198.51.100.101/24", "198.51.100.100/24"))}}, nil)
	if w := p.warnings(); len(w) != 0 {
		t.Errorf("the same VIPs in another order: warnings %q", w)
	}

	// A new instance has no peer advertising it yet: nothing to warn of.
	p = planReload(running, nil, &config.Config{}, &config.Config{Instances: []config.Instance{vi("VI_1"), vi("VI_2", on("eth0", 52))}}, nil)
	if w := p.warnings(); len(w) != 0 {
		t.Errorf("adding an instance: warnings %q", w)
	}
}

func TestReloadWarningsIncludeStaticSettings(t *testing.T) {
	old := &config.Config{LogLevel: "info", Instances: []config.Instance{vi("VI_1")}}
	next := &config.Config{LogLevel: "debug", Instances: []config.Instance{vi("VI_1", vips("198.51.100.101/24"))}}
	w := planReload([]runningInstance{{ic: vi("VI_1")}}, nil, old, next, nil).warnings()
	if len(w) != 2 || !strings.HasPrefix(w[0], "instance VI_1: virtual_ips changed") ||
		!slices.Contains(w, "log_level or log_format changed; it takes effect at the next restart") {
		t.Errorf("warnings %q", w)
	}
}
