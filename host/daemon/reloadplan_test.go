package daemon

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/host/checkspec"
	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/health"
)

// vi is an IPv4 instance on eth0 with VRID 51, changed by the options.
func vi(name string, opts ...func(*config.Instance)) config.Instance {
	ic := config.Instance{Name: name, Interface: "eth0", VRID: 51, Priority: 100, Version: 3,
		AdvertInterval: time.Second, Preempt: true,
		VirtualIPs: []netip.Prefix{netip.MustParsePrefix("198.51.100.100/24")}}
	for _, o := range opts {
		o(&ic)
	}
	return ic
}

func ipv6(ic *config.Instance) {
	ic.VirtualIPs = []netip.Prefix{netip.MustParsePrefix("2001:db8:51::100/64")}
}

func on(iface string, vrid uint8) func(*config.Instance) {
	return func(ic *config.Instance) { ic.Interface, ic.VRID = iface, vrid }
}

func TestPlanReloadMatchesInstances(t *testing.T) {
	running := []runningInstance{{ic: vi("VI_4")}, {ic: vi("VI_6", ipv6)}, {ic: vi("VI_other", on("eth1", 51))}}
	tests := []struct {
		name    string
		next    []config.Instance
		kept    []int // running indices, in the new file's order
		started []startedInstance
		stopped []int
	}{
		{
			name: "an IPv4 and an IPv6 instance share a VRID",
			next: []config.Instance{vi("VI_6", ipv6), vi("VI_4"), vi("VI_other", on("eth1", 51))},
			kept: []int{1, 0, 2},
		},
		{
			name: "matched by interface, VRID and family, not by name",
			next: []config.Instance{vi("renamed"), vi("VI_6", ipv6), vi("VI_other", on("eth1", 51))},
			kept: []int{0, 1, 2},
		},
		{
			name:    "removed instance",
			next:    []config.Instance{vi("VI_4"), vi("VI_6", ipv6)},
			kept:    []int{0, 1},
			stopped: []int{2},
		},
		{
			name:    "new instance",
			next:    []config.Instance{vi("VI_4"), vi("VI_6", ipv6), vi("VI_other", on("eth1", 51)), vi("VI_new", on("eth0", 52))},
			kept:    []int{0, 1, 2},
			started: []startedInstance{{ic: vi("VI_new", on("eth0", 52)), replaces: -1}},
		},
		{
			name:    "another VRID is another router: the old one goes, a new one starts",
			next:    []config.Instance{vi("VI_4", on("eth0", 61)), vi("VI_6", ipv6), vi("VI_other", on("eth1", 51))},
			kept:    []int{1, 2},
			started: []startedInstance{{ic: vi("VI_4", on("eth0", 61)), replaces: -1}},
			stopped: []int{0},
		},
		{
			name: "the family decides which one matches",
			next: []config.Instance{vi("VI_6", ipv6, func(ic *config.Instance) { ic.Priority = 200 })},
			kept: []int{1}, stopped: []int{0, 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planReload(running, nil, &config.Config{}, &config.Config{Instances: tt.next}, nil)
			var kept []int
			for _, k := range p.kept {
				kept = append(kept, k.from)
				if !reflect.DeepEqual(k.ic, findInstance(tt.next, k.ic.Name)) {
					t.Errorf("kept %s with settings %+v, not the new file's", k.ic.Name, k.ic)
				}
			}
			if !slices.Equal(kept, tt.kept) {
				t.Errorf("kept %v, want %v", kept, tt.kept)
			}
			if !reflect.DeepEqual(p.started, tt.started) {
				t.Errorf("started %+v, want %+v", p.started, tt.started)
			}
			if !slices.Equal(p.stopped, tt.stopped) {
				t.Errorf("stopped %v, want %v", p.stopped, tt.stopped)
			}
		})
	}
}

func findInstance(list []config.Instance, name string) config.Instance {
	for _, ic := range list {
		if ic.Name == name {
			return ic
		}
	}
	return config.Instance{}
}

func TestPlanReloadReplacesOrReconfigures(t *testing.T) {
	peer := []netip.Addr{netip.MustParseAddr("198.51.100.2")}
	tests := []struct {
		name     string
		prev     runningInstance
		change   func(*config.Instance)
		replaced string // why; "" for kept and reconfigured
	}{
		{"version", runningInstance{ic: vi("VI_1")}, func(ic *config.Instance) { ic.Version = 2 }, "version changed"},
		{"to unicast", runningInstance{ic: vi("VI_1")}, func(ic *config.Instance) { ic.UnicastPeers = peer }, "unicast mode changed"},
		{"to multicast", runningInstance{ic: vi("VI_1", func(ic *config.Instance) { ic.UnicastPeers = peer })},
			func(ic *config.Instance) { ic.UnicastPeers = nil }, "unicast mode changed"},
		{"unicast_source", runningInstance{ic: vi("VI_1")},
			func(ic *config.Instance) { ic.UnicastSource = netip.MustParseAddr("198.51.100.1") }, "unicast_source changed"},
		{"becomes the address owner", runningInstance{ic: vi("VI_1")}, func(ic *config.Instance) { ic.Priority = 255 }, "address ownership changed"},
		{"no longer the owner", runningInstance{ic: vi("VI_1", func(ic *config.Instance) { ic.Priority = 255 })},
			func(ic *config.Instance) { ic.Priority = 254 }, "address ownership changed"},
		{"use_vmac", runningInstance{ic: vi("VI_1")}, func(ic *config.Instance) { ic.UseVMAC = true }, "use_vmac changed"},
		{"vmac_xmit_base", runningInstance{ic: vi("VI_1")}, func(ic *config.Instance) { ic.VMACXmitBase = true }, "vmac_xmit_base changed"},
		{"vmac_interface", runningInstance{ic: vi("VI_1")}, func(ic *config.Instance) { ic.VMACInterface = "vip51" }, "vmac_interface changed"},
		{"held without a socket", runningInstance{ic: vi("VI_1"), noSource: true}, func(*config.Instance) {},
			"it had no socket; opening one again"},

		{"VIP added and removed", runningInstance{ic: vi("VI_1")}, func(ic *config.Instance) {
			ic.VirtualIPs = []netip.Prefix{netip.MustParsePrefix("198.51.100.101/24"), netip.MustParsePrefix("198.51.100.102/24")}
		}, ""},
		{"excluded IPs", runningInstance{ic: vi("VI_1")}, func(ic *config.Instance) {
			ic.ExcludedIPs = []netip.Prefix{netip.MustParsePrefix("2001:db8:51::10/64")}
		}, ""},
		{"priority", runningInstance{ic: vi("VI_1")}, func(ic *config.Instance) { ic.Priority = 150 }, ""},
		{"advert interval, preempt, auth", runningInstance{ic: vi("VI_1")}, func(ic *config.Instance) {
			ic.AdvertInterval, ic.Preempt, ic.AuthPass = 2*time.Second, false, "secret"
		}, ""},
		{"unicast peers, still unicast", runningInstance{ic: vi("VI_1", func(ic *config.Instance) { ic.UnicastPeers = peer })},
			func(ic *config.Instance) { ic.UnicastPeers = append(peer, netip.MustParseAddr("198.51.100.3")) }, ""},
		{"tracks and notify", runningInstance{ic: vi("VI_1")}, func(ic *config.Instance) {
			ic.TrackChecks = []config.TrackCheck{{Check: "nginx", Weight: -60}}
			ic.TrackInterfaces = []string{"eth1"}
			ic.Notify = "/etc/hasidecar/notify.sh"
		}, ""},
		{"renamed", runningInstance{ic: vi("VI_1")}, func(ic *config.Instance) { ic.Name = "VI_one" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := tt.prev.ic
			tt.change(&next)
			p := planReload([]runningInstance{tt.prev}, nil, &config.Config{}, &config.Config{Instances: []config.Instance{next}}, nil)
			if tt.replaced == "" {
				if len(p.kept) != 1 || len(p.started) != 0 || len(p.stopped) != 0 {
					t.Fatalf("not kept: %+v", p)
				}
				return
			}
			want := []startedInstance{{ic: next, replaces: 0, why: tt.replaced}}
			if len(p.kept) != 0 || !reflect.DeepEqual(p.started, want) || !slices.Equal(p.stopped, []int{0}) {
				t.Fatalf("plan %+v, want the instance replaced because %s", p, tt.replaced)
			}
		})
	}
}

func TestPlanChecks(t *testing.T) {
	spec := func(name, plugin, cfg string, interval time.Duration) health.CheckSpec {
		return health.CheckSpec{Name: name, Plugin: plugin, Interval: interval, Timeout: 100 * time.Millisecond,
			Rise: 2, Fall: 2, Config: cfg}
	}
	resolved := func(s health.CheckSpec) checkspec.Resolved {
		return checkspec.Resolved{Check: config.Check{Name: s.Name, Plugin: s.Plugin, Interval: s.Interval,
			Timeout: s.Timeout, Rise: s.Rise, Fall: s.Fall}, JSON: []byte(s.Config)}
	}
	old := []health.CheckSpec{
		spec("same", "httpget", `{"url":"http://127.0.0.1/"}`, time.Second),
		spec("newconfig", "tcp", `{"address":"127.0.0.1:80"}`, time.Second),
		spec("slower", "icmp", `{"address":"198.51.100.1"}`, time.Second),
		spec("moved", "script", `{"command":["/bin/true"]}`, time.Second),
		spec("gone", "tcp", `{"address":"127.0.0.1:443"}`, time.Second),
		spec("alsogone", "icmp", `{"address":"198.51.100.9"}`, time.Second),
	}
	next := []checkspec.Resolved{
		resolved(spec("added", "tcp", `{"address":"127.0.0.1:8080"}`, time.Second)),
		resolved(old[0]),
		resolved(spec("newconfig", "tcp", `{"address":"127.0.0.1:81"}`, time.Second)),
		resolved(spec("slower", "icmp", `{"address":"198.51.100.1"}`, 2*time.Second)),
		resolved(spec("moved", "mycheck", `{"command":["/bin/true"]}`, time.Second)),
	}
	p := planChecks(old, next)
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"added", p.added, []string{"added"}},
		{"kept", p.kept, []string{"same"}},
		{"changed", p.changed, []string{"newconfig", "slower", "moved"}},
		{"removed", p.removed, []string{"alsogone", "gone"}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	// Only a new plugin or configuration goes to a plugin; a new schedule
	// does not.
	var configured []string
	for _, s := range p.configure {
		configured = append(configured, s.check.Name+"<-"+s.movedFrom)
	}
	if want := []string{"added<-", "newconfig<-", "moved<-script"}; !slices.Equal(configured, want) {
		t.Errorf("configured %v, want %v", configured, want)
	}
	if want := []checkRef{{"alsogone", "icmp"}, {"gone", "tcp"}}; !slices.Equal(p.forget, want) {
		t.Errorf("forget %v, want %v", p.forget, want)
	}
	if got := unusedPlugins([]string{"httpget", "icmp", "script", "tcp"}, next); !slices.Equal(got, []string{"script"}) {
		t.Errorf("unused plugins %v, want [script]", got)
	}
	// At start every check is added and configured.
	if p := planChecks(nil, next); len(p.added) != len(next) || len(p.configure) != len(next) {
		t.Errorf("at start: %+v", p)
	}
}

func TestStaticChangesOnlyWarn(t *testing.T) {
	base := func() *config.Config {
		return &config.Config{Control: config.Control{Socket: "/run/hasidecar/hasidecar.sock"},
			Metrics: &config.Metrics{Listen: "127.0.0.1:9465"}, PluginDir: "/usr/lib/hasidecar/plugins",
			PluginPins: map[string]string{"tcp": "ab"}, LogLevel: "info", LogFormat: "json",
			Instances:  []config.Instance{vi("VI_1")},
			SyncGroups: []config.SyncGroup{{Name: "G1", Instances: []string{"VI_1"}}}}
	}
	tests := []struct {
		name   string
		change func(*config.Config)
		want   []string
	}{
		{"nothing", func(*config.Config) {}, nil},
		{"instances and checks are not static", func(c *config.Config) {
			c.Instances = nil
			c.Checks = []config.Check{{Name: "nginx"}}
		}, nil},
		{"control socket", func(c *config.Config) { c.Control.Group = "hasidecar" }, []string{"control socket"}},
		{"metrics", func(c *config.Config) { c.Metrics = nil }, []string{"metrics listen address"}},
		{"metrics address", func(c *config.Config) { c.Metrics = &config.Metrics{Listen: ":9466"} }, []string{"metrics listen address"}},
		{"plugin pin", func(c *config.Config) { c.PluginPins = map[string]string{"tcp": "cd"} }, []string{"plugin_dir or plugin pins"}},
		{"logging", func(c *config.Config) { c.LogLevel = "debug" }, []string{"log_level or log_format"}},
		{"sync group", func(c *config.Config) { c.SyncGroups[0].Notify = "/bin/notify" }, []string{"a sync_group"}},
		{"several", func(c *config.Config) { c.PluginDir, c.LogFormat = "/opt", "console" },
			[]string{"plugin_dir or plugin pins", "log_level or log_format"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := base()
			tt.change(next)
			p := planReload([]runningInstance{{ic: vi("VI_1")}}, nil, base(), next, nil)
			if !slices.Equal(p.static, tt.want) {
				t.Errorf("static = %q, want %q", p.static, tt.want)
			}
		})
	}
}
