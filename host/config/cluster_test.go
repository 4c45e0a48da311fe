package config

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// clusterNode renders one node's file: instance holds the vrrp_instance body's
// extra lines; priority and name vary per node.
func clusterNode(t *testing.T, name string, priority int, extra string) *Config {
	t.Helper()
	src := `node_name = "` + name + `"
check "nginx" {
  plugin = "httpget"
  config { url = "http://127.0.0.1/" }
}
vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = ` + strconv.Itoa(priority) + `
  virtual_ips       = ["198.51.100.100/24"]
` + extra + `
}
`
	cfg, diags := ParseWith([]byte(src), name+".hcl", testHost)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", name, diags)
	}
	cfg.Path = "/etc/" + name + ".hcl"
	return cfg
}

func TestCheckCluster(t *testing.T) {
	type n struct {
		name     string
		priority int
		extra    string
	}
	tests := []struct {
		name  string
		nodes []n
		want  []string // substrings of the diagnostics, in any order; none: clean
	}{
		{"a good pair", []n{
			{"lb-1", 150, `track_check "nginx" { weight = -60 }`},
			{"lb-2", 100, `track_check "nginx" { weight = -60 }`},
		}, nil},
		{"weight too small (keepalived #942)", []n{
			{"lb-1", 150, `track_check "nginx" { weight = -40 }`},
			{"lb-2", 100, `track_check "nginx" { weight = -40 }`},
		}, []string{"lb-1.hcl:11:1: error: check nginx failing on lb-1 leaves priority 110 >= lb-2's 100: the VIPs would not move; make the weight at most -51"}},
		{"weight leaves equal priority", []n{
			{"lb-1", 150, `track_check "nginx" { weight = -50 }`},
			{"lb-2", 100, ``},
		}, []string{"leaves priority 100 >= lb-2's 100"}},
		{"weight 0 is FAULT and always moves", []n{
			{"lb-1", 150, `track_check "nginx" { weight = 0 }`},
			{"lb-2", 100, ``},
		}, nil},
		{"positive weights: the backup's bonus counts", []n{
			{"lb-1", 150, `track_check "nginx" { weight = 20 }`},
			{"lb-2", 140, `track_check "nginx" { weight = 20 }`},
		}, nil},
		{"positive weight too small", []n{
			{"lb-1", 150, `track_check "nginx" { weight = 5 }`},
			{"lb-2", 140, `track_check "nginx" { weight = 5 }`},
		}, []string{"check nginx failing on lb-1 leaves priority 150 >= lb-2's 145", "make the weight at least 11"}},
		{"three nodes: the master must fall below each", []n{
			{"lb-1", 150, `track_check "nginx" { weight = -30 }`},
			{"lb-2", 130, ``},
			{"lb-3", 110, ``},
		}, []string{"leaves priority 120 >= lb-3's 110"}},
		{"equal priorities", []n{
			{"lb-1", 100, ``},
			{"lb-2", 100, ``},
		}, []string{"lb-2.hcl:6:1: error: VRID 51 on eth0: lb-1 and lb-2 both have priority 100"}},
		{"other version", []n{
			{"lb-1", 150, `version = 2`},
			{"lb-2", 100, ``},
		}, []string{"lb-2 has version 3 but lb-1 has 2"}},
		{"other interval", []n{
			{"lb-1", 150, `advert_interval = "2s"`},
			{"lb-2", 100, ``},
		}, []string{"lb-2 has advert_interval 1s but lb-1 has 2s"}},
		{"other password", []n{
			{"lb-1", 150, "version = 2\nauth_pass = \"secret\""},
			{"lb-2", 100, "version = 2\nauth_pass = \"other1\""},
		}, []string{"auth_pass one of 6 characters but lb-1 has one of 6 characters"}},
		{"vmac_xmit_base on one node only", []n{
			{"lb-1", 150, "use_vmac = true\nvmac_xmit_base = true"},
			{"lb-2", 100, "use_vmac = true"},
		}, []string{"lb-2 has vmac_xmit_base false but lb-1 has true"}},
		{"unicast peers not mutual", []n{
			{"lb-1", 150, "unicast_source = \"198.51.100.1\"\nunicast_peers = [\"198.51.100.2\"]"},
			{"lb-2", 100, "unicast_source = \"198.51.100.2\"\nunicast_peers = [\"198.51.100.3\"]"},
		}, []string{"lb-2's unicast_peers lack 198.51.100.1 (lb-1's unicast_source)"}},
		{"unicast beside multicast", []n{
			{"lb-1", 150, "unicast_source = \"198.51.100.1\"\nunicast_peers = [\"198.51.100.2\"]"},
			{"lb-2", 100, ""},
		}, []string{"lb-2 multicasts but the others use unicast_peers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfgs []*Config
			for _, nd := range tt.nodes {
				cfgs = append(cfgs, clusterNode(t, nd.name, nd.priority, nd.extra))
			}
			diags := CheckCluster(cfgs)
			var b strings.Builder
			WriteDiagnostics(&b, diags)
			got := b.String()
			if len(tt.want) == 0 && got != "" {
				t.Fatalf("unexpected diagnostics:\n%s", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, got)
				}
			}
			if len(tt.want) > 0 && !diags.HasErrors() {
				t.Errorf("only warnings:\n%s", got)
			}
		})
	}
}

// TestCheckClusterVIPsAndLoneVRID covers what the template cannot vary.
func TestCheckClusterVIPsAndLoneVRID(t *testing.T) {
	a := clusterNode(t, "lb-1", 150, "")
	b := clusterNode(t, "lb-2", 100, "")
	b.Instances[0].VirtualIPs = append(b.Instances[0].VirtualIPs, a.Instances[0].VirtualIPs[0].Masked())
	var out strings.Builder
	WriteDiagnostics(&out, CheckCluster([]*Config{a, b}))
	if !strings.Contains(out.String(), "lb-2 has virtual_ips [198.51.100.0/24, 198.51.100.100/24] but lb-1 has [198.51.100.100/24]") {
		t.Errorf("other VIPs: %s", out.String())
	}
	b = clusterNode(t, "lb-2", 100, "")
	b.Instances[0].VRID = 61
	b.Instances[0].VirtualIPs = []netip.Prefix{netip.MustParsePrefix("198.51.100.101/24")}
	out.Reset()
	diags := CheckCluster([]*Config{a, b})
	WriteDiagnostics(&out, diags)
	if diags.HasErrors() || !strings.Contains(out.String(), "warning: VRID 51 on eth0 is only in lb-1's file; no other node backs it up") {
		t.Errorf("lone VRID: %s", out.String())
	}
	// Files that share a node name (the default host name) are named by file.
	a = clusterNode(t, "same", 100, "")
	b = clusterNode(t, "same", 100, "")
	b.Path = "/etc/other.hcl"
	out.Reset()
	WriteDiagnostics(&out, CheckCluster([]*Config{a, b}))
	if !strings.Contains(out.String(), "same.hcl and other.hcl both have priority 100") {
		t.Errorf("shared node names: %s", out.String())
	}
}

func TestWeightWarnings(t *testing.T) {
	in := clusterNode(t, "lb-2", 100, `track_check "nginx" { weight = -40 }`).Instances[0]
	if w := WeightWarnings(in, "198.51.100.1", 150); len(w) != 1 || !strings.Contains(w[0], "its failure leaves priority 110 >= our 100") {
		t.Fatalf("warnings %q", w)
	}
	if w := WeightWarnings(in, "198.51.100.1", 120); len(w) != 0 {
		t.Fatalf("a weight that moves the VIPs warned: %q", w)
	}
	if w := WeightWarnings(in, "", 0); len(w) != 0 {
		t.Fatalf("no master known, yet %q", w)
	}
}

// TestCheckClusterMatching: instances are one virtual router by VRID and
// family whatever the nodes call the interface; an address shared under
// two VRIDs is an error; a file given twice is one.
func TestCheckClusterMatching(t *testing.T) {
	// node renders a file with one instance per "IFACE VRID VIP" triple.
	node := func(t *testing.T, name, path string, priority int, instances ...string) *Config {
		t.Helper()
		src := `node_name = "` + name + `"` + "\n"
		for i, spec := range instances {
			f := strings.Fields(spec)
			src += `vrrp_instance "VI_` + strconv.Itoa(i+1) + `" {
  interface         = "` + f[0] + `"
  virtual_router_id = ` + f[1] + `
  priority          = ` + strconv.Itoa(priority) + `
  virtual_ips       = ["` + f[2] + `"]
}
`
		}
		cfg, diags := ParseWith([]byte(src), filepath.Base(path), testHost)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags)
		}
		cfg.Path = path
		return cfg
	}
	tests := []struct {
		name   string
		nodes  func(t *testing.T) []*Config
		errors bool
		want   []string
		absent []string
	}{
		{"other interface names match by VRID", func(t *testing.T) []*Config {
			return []*Config{node(t, "lb-1", "/etc/lb-1.hcl", 150, "eth0 51 198.51.100.100/24"),
				node(t, "lb-2", "/etc/lb-2.hcl", 100, "ens3 51 198.51.100.100/24")}
		}, false, nil, []string{"only in"}},
		{"matched across interface names, still compared", func(t *testing.T) []*Config {
			return []*Config{node(t, "lb-1", "/etc/lb-1.hcl", 100, "eth0 51 198.51.100.100/24"),
				node(t, "lb-2", "/etc/lb-2.hcl", 100, "ens3 51 198.51.100.100/24")}
		}, true, []string{"VRID 51 on eth0/ens3: lb-1 and lb-2 both have priority 100"}, nil},
		{"one VIP under two VRIDs", func(t *testing.T) []*Config {
			return []*Config{node(t, "lb-1", "/etc/lb-1.hcl", 150, "eth0 51 198.51.100.100/24"),
				node(t, "lb-2", "/etc/lb-2.hcl", 100, "eth0 52 198.51.100.100/24")}
		}, true, []string{"lb-2.hcl:2:1: error: 198.51.100.100 is a virtual address of VRID 51 in lb-1 (VI_1, lb-1.hcl:2) but of VRID 52 in lb-2 (VI_1, lb-2.hcl:2); two virtual routers"},
			[]string{"only in"}},
		{"one VIP under two VRIDs on other interfaces", func(t *testing.T) []*Config {
			return []*Config{node(t, "lb-1", "/etc/lb-1.hcl", 150, "eth0 51 198.51.100.100/24"),
				node(t, "lb-2", "/etc/lb-2.hcl", 100, "ens3 52 198.51.100.100/24")}
		}, true, []string{"of VRID 51 in lb-1", "but of VRID 52 in lb-2"}, nil},
		{"a VRID on two segments is matched by interface", func(t *testing.T) []*Config {
			return []*Config{node(t, "lb-1", "/etc/lb-1.hcl", 150, "eth0 51 198.51.100.100/24", "eth1 51 203.0.113.100/24"),
				node(t, "lb-2", "/etc/lb-2.hcl", 100, "eth0 51 198.51.100.100/24", "ens4 51 203.0.113.100/24")}
		}, false, nil, []string{"only in"}},
		{"a VRID on two segments, one unmatched", func(t *testing.T) []*Config {
			return []*Config{node(t, "lb-1", "/etc/lb-1.hcl", 150, "eth0 51 198.51.100.100/24", "eth1 51 203.0.113.100/24"),
				node(t, "lb-2", "/etc/lb-2.hcl", 100, "eth0 51 198.51.100.100/24", "ens4 51 203.0.113.101/24")}
		}, false, []string{"VRID 51 on eth1 is only in lb-1's file; lb-2 has VRID 51 on ens4, but where"},
			[]string{"VRID 51 on eth0 is only"}},
		{"the same file twice", func(t *testing.T) []*Config {
			return []*Config{node(t, "lb-1", "/etc/a.hcl", 150, "eth0 51 198.51.100.100/24"),
				node(t, "lb-1", "/etc/a.hcl", 150, "eth0 51 198.51.100.100/24")}
		}, true, []string{"error: /etc/a.hcl is given twice"}, []string{"both have priority", "node_name"}},
		{"two files, one node_name", func(t *testing.T) []*Config {
			return []*Config{node(t, "lb", "/etc/a.hcl", 150, "eth0 51 198.51.100.100/24"),
				node(t, "lb", "/etc/b.hcl", 100, "eth0 51 198.51.100.100/24")}
		}, false, []string{`warning: a.hcl and b.hcl share node_name "lb"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diags := CheckCluster(tt.nodes(t))
			var b strings.Builder
			WriteDiagnostics(&b, diags)
			got := b.String()
			if diags.HasErrors() != tt.errors {
				t.Errorf("errors %v, want %v:\n%s", diags.HasErrors(), tt.errors, got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, got)
				}
			}
			for _, w := range tt.absent {
				if strings.Contains(got, w) {
					t.Errorf("diagnostics have %q:\n%s", w, got)
				}
			}
		})
	}
}
