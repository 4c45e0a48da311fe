package config

import (
	"reflect"
	"strings"
	"testing"
)

const twoInstances = `
check "nginx" {
  plugin = "script"
  config { command = ["/bin/true"] }
}
vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.10/24"]
  track_interface "eth9" {}
}
vrrp_instance "VI_2" {
  interface         = "eth1"
  virtual_router_id = 52
  priority          = 150
  virtual_ips       = ["203.0.113.10/24"]
  track_check "nginx" { weight = -10 }
}
`

func TestSyncGroup(t *testing.T) {
	host := HostDefaults{NodeName: "n", PluginDir: "/p"}
	src := twoInstances + `
sync_group "G1" {
  instances = ["VI_1", "VI_2"]
  track_check "nginx" { weight = -60 }
  track_interface "eth9" {}
  notify = "/etc/hasidecar/group.sh"
  notify_master = ["/bin/logger", "group master"]
}
`
	cfg, diags := ParseWith([]byte(src), "t.hcl", host)
	if diags.HasErrors() {
		t.Fatal(formatAll(diags))
	}
	if len(cfg.SyncGroups) != 1 {
		t.Fatalf("groups: %+v", cfg.SyncGroups)
	}
	g := cfg.SyncGroups[0]
	if g.Name != "G1" || !reflect.DeepEqual(g.Instances, []string{"VI_1", "VI_2"}) || g.Notify != "/etc/hasidecar/group.sh" ||
		!reflect.DeepEqual(g.NotifyMaster, []string{"/bin/logger", "group master"}) || len(g.TrackChecks) != 1 {
		t.Errorf("group: %+v", g)
	}
	// The group's tracking reaches each member; a member's own track of the
	// same check keeps its weight, and a link is tracked once.
	vi1, vi2 := cfg.Instances[0], cfg.Instances[1]
	if len(vi1.TrackChecks) != 1 || vi1.TrackChecks[0].Weight != -60 || !reflect.DeepEqual(vi1.TrackInterfaces, []string{"eth9"}) {
		t.Errorf("VI_1: %+v", vi1)
	}
	if len(vi2.TrackChecks) != 1 || vi2.TrackChecks[0].Weight != -10 || !reflect.DeepEqual(vi2.TrackInterfaces, []string{"eth9"}) {
		t.Errorf("VI_2: %+v", vi2)
	}

	// A member's own weighted check reaches the other members.
	cfg, diags = ParseWith([]byte(twoInstances+`sync_group "G1" { instances = ["VI_1", "VI_2"] }`), "t.hcl", host)
	if diags.HasErrors() {
		t.Fatal(formatAll(diags))
	}
	if tc := cfg.Instances[0].TrackChecks; len(tc) != 1 || tc[0].Check != "nginx" || tc[0].Weight != -10 {
		t.Errorf("VI_1 does not share VI_2's weighted check: %+v", tc)
	}

	for _, tc := range []struct{ name, group, want string }{
		{"unknown member", `sync_group "G" { instances = ["VI_1", "VI_3"] }`, `instances[1] = "VI_3" names no vrrp_instance`},
		{"two groups", `sync_group "G" { instances = ["VI_1"] }` + "\n" + `sync_group "H" { instances = ["VI_1"] }`, `vrrp_instance "VI_1" is already in sync_group "G"`},
		{"no instances", `sync_group "G" {}`, `sync_group "G" has no instances`},
		{"empty", `sync_group "G" { instances = [] }`, "instances is empty"},
		{"unknown check", `sync_group "G" {` + "\n" + `instances = ["VI_1"]` + "\n" + `track_check "nope" {}` + "\n}", `track_check "nope" names no check`},
		{"relative notify", `sync_group "G" {` + "\n" + `instances = ["VI_1"]` + "\n" + `notify = "x.sh"` + "\n}", "is not an absolute path"},
		{"duplicate", `sync_group "G" { instances = ["VI_1"] }` + "\n" + `sync_group "G" { instances = ["VI_2"] }`, `duplicate sync_group "G"`},
		{"unknown key", `sync_group "G" {` + "\n" + `instances = ["VI_1"]` + "\n" + `priority = 3` + "\n}", "Unsupported argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := ParseWith([]byte(twoInstances+tc.group), "t.hcl", host)
			if cfg != nil || !strings.Contains(formatAll(diags), tc.want) {
				t.Errorf("got %v, want an error containing %q", formatAll(diags), tc.want)
			}
		})
	}
}
