package netlab

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestKeepalivedConfigRender(t *testing.T) {
	vip := netip.MustParsePrefix("198.51.100.100/24")
	tests := []struct {
		name    string
		config  KeepalivedConfig
		want    []string // lines that must appear, trimmed
		notWant []string
	}{
		{
			name:    "defaults",
			config:  KeepalivedConfig{VRID: 51, VIPs: []netip.Prefix{vip}},
			want:    []string{"vrrp_instance VI_1 {", "state BACKUP", "interface eth0", "virtual_router_id 51", "nopreempt", "198.51.100.100/24 dev eth0"},
			notWant: []string{"vrrp_strict", "priority", "advert_int", "vrrp_version", "unicast_peer", "authentication"},
		},
		{
			name: "v3 fractional interval and preempt",
			config: KeepalivedConfig{RouterID: "r1", Instance: "VI_9", State: "MASTER", VRID: 9, Priority: 200,
				Version: 3, AdvertInterval: 100 * time.Millisecond, Preempt: true, VIPs: []netip.Prefix{vip}},
			want:    []string{"router_id r1", "vrrp_version 3", "version 3", "vrrp_instance VI_9 {", "state MASTER", "priority 200", "advert_int 0.1"},
			notWant: []string{"nopreempt"},
		},
		{
			name:   "v2 interval rounded up to whole seconds",
			config: KeepalivedConfig{VRID: 1, Version: 2, AdvertInterval: 1500 * time.Millisecond},
			want:   []string{"advert_int 2", "vrrp_version 2"},
		},
		{
			name:   "v2 sub-second interval becomes one second",
			config: KeepalivedConfig{VRID: 1, Version: 2, AdvertInterval: 100 * time.Millisecond},
			want:   []string{"advert_int 1"},
		},
		{
			name: "unicast with auth",
			config: KeepalivedConfig{VRID: 7, Iface: "eth1", UnicastSource: netip.MustParseAddr("198.51.100.1"),
				UnicastPeers: []netip.Addr{netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.3")},
				AuthPass:     "secret1", VIPs: []netip.Prefix{vip}},
			want: []string{"interface eth1", "unicast_src_ip 198.51.100.1", "unicast_peer {", "198.51.100.2", "198.51.100.3",
				"auth_type PASS", "auth_pass secret1", "198.51.100.100/24 dev eth1"},
		},
		{
			name:    "unicast source alone stays multicast",
			config:  KeepalivedConfig{VRID: 7, UnicastSource: netip.MustParseAddr("198.51.100.1")},
			notWant: []string{"unicast_src_ip", "unicast_peer"},
		},
		{
			name:   "extra lines",
			config: KeepalivedConfig{VRID: 7, GlobalExtra: []string{"vrrp_garp_master_delay 1"}, InstanceExtra: []string{"garp_master_repeat 2"}},
			want:   []string{"vrrp_garp_master_delay 1", "garp_master_repeat 2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.config.Render()
			lines := map[string]bool{}
			for _, l := range strings.Split(text, "\n") {
				lines[strings.TrimSpace(l)] = true
			}
			for _, w := range tc.want {
				if !lines[w] {
					t.Errorf("missing line %q in:\n%s", w, text)
				}
			}
			for _, nw := range tc.notWant {
				if strings.Contains(text, nw) {
					t.Errorf("unexpected %q in:\n%s", nw, text)
				}
			}
			if strings.Count(text, "{") != strings.Count(text, "}") {
				t.Errorf("unbalanced braces in:\n%s", text)
			}
		})
	}
}

func TestKeepalivedConfigAccepted(t *testing.T) {
	t.Parallel()
	RequireKeepalived(t)
	lab := New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	vip := netip.PrefixFrom(Address(100), SegmentBits())
	configs := []struct {
		name   string
		config KeepalivedConfig
	}{
		{"v2 multicast", KeepalivedConfig{VRID: 51, Priority: 150, Version: 2, AdvertInterval: time.Second, VIPs: []netip.Prefix{vip}}},
		{"v3 fast preempt master", KeepalivedConfig{State: "MASTER", VRID: 52, Priority: 200, Version: 3,
			AdvertInterval: 100 * time.Millisecond, Preempt: true, VIPs: []netip.Prefix{vip}}},
		{"v2 unicast auth", KeepalivedConfig{VRID: 53, Version: 2, UnicastSource: n1.Addr,
			UnicastPeers: []netip.Addr{n2.Addr}, AuthPass: "secret1", VIPs: []netip.Prefix{vip}}},
	}
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := n1.CheckKeepalivedConfig(t, tc.config); err != nil {
				t.Fatalf("%v\nconfig:\n%s", err, tc.config.Render())
			} else if strings.Contains(strings.ToLower(out), "error") {
				t.Errorf("keepalived -t reports problems:\n%s\nconfig:\n%s", out, tc.config.Render())
			}
		})
	}
	t.Run("flags v3 with authentication", func(t *testing.T) {
		// keepalived ignores auth with VRRPv3 and says so; -t exits non-zero.
		c := KeepalivedConfig{VRID: 54, Version: 3, AuthPass: "secret1", VIPs: []netip.Prefix{vip}}
		if out, err := n1.CheckKeepalivedConfig(t, c); err == nil {
			t.Errorf("keepalived -t accepted VRRPv3 with auth_pass; output:\n%s", out)
		}
	})
	t.Run("rejects a broken config", func(t *testing.T) {
		broken := KeepalivedConfig{VRID: 51, InstanceExtra: []string{"virtual_ipaddress {"}}
		if out, err := n1.CheckKeepalivedConfig(t, broken); err == nil {
			t.Errorf("keepalived -t accepted a config with an unbalanced brace; output:\n%s", out)
		}
	})
}

func TestKeepalivedSingleNodeBecomesMaster(t *testing.T) {
	t.Parallel()
	lab := New(t, 1)
	n := lab.Nodes[0]
	vip := Address(100)
	k := n.StartKeepalived(t, KeepalivedConfig{
		VRID: 51, Priority: 150, Version: 3, AdvertInterval: 100 * time.Millisecond, Preempt: true,
		VIPs: []netip.Prefix{netip.PrefixFrom(vip, SegmentBits())},
	})
	if err := n.WaitAddress(t, vip, true, 5*time.Second); err != nil {
		t.Fatalf("%v\nkeepalived output:\n%s", err, k.Log())
	}
	if err := k.WaitLog("Entering MASTER STATE", 2*time.Second); err != nil {
		t.Error(err)
	}
	if err := lab.Client.Ping(vip, 2*time.Second); err != nil {
		t.Errorf("client cannot reach the VIP: %v", err)
	}
	if mac, ok := lab.Client.ARPNeighbour(t, vip); !ok || mac != n.MAC(t) {
		t.Errorf("client's ARP entry for %s = %q, %v; want %s", vip, mac, ok, n.MAC(t))
	}
	if err := k.Stop(5 * time.Second); err != nil && !isSignalExit(err) {
		t.Errorf("keepalived stop: %v\n%s", err, k.Log())
	}
	// keepalived releases its VIPs when it stops.
	if err := n.WaitAddress(t, vip, false, 2*time.Second); err != nil {
		t.Error(err)
	}
}
