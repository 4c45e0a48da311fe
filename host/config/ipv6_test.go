package config

import (
	"net/netip"
	"strings"
	"testing"
)

// instance6With is a valid IPv6 vrrp_instance "VI_6" whose line 2 is extra.
func instance6With(extra string) string {
	return `vrrp_instance "VI_6" {
  ` + extra + `
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["fe80::51", "2001:db8:51::100/64"]
}
`
}

func TestParseRejectsIPv6(t *testing.T) {
	tests := []struct {
		name, src, summary, detail string
		line, col                  int
	}{
		{"version 2 with ipv6", instance6With(`version = 2`), "version = 2 cannot carry IPv6 virtual_ips", "VRRPv2 (RFC 3768) is IPv4 only", 2, 13},
		{"mixed families", strings.Replace(instanceWith(""), `["198.51.100.10/24"]`, `["198.51.100.10/24", "2001:db8:51::100"]`, 1),
			`virtual_ips[1] = "2001:db8:51::100" is not of the same family as 198.51.100.10`, "excluded_ips", 6, 44},
		{"vip with zone", strings.Replace(instance6With(""), `"fe80::51"`, `"fe80::51%eth0"`, 1), `virtual_ips[0] = "fe80::51%eth0" has a zone`, "", 6, 24},
		{"vip loopback", strings.Replace(instance6With(""), `"fe80::51"`, `"::1"`, 1), `virtual_ips[0] = "::1" cannot be a virtual IP`, "loopback", 6, 24},
		{"vip multicast", strings.Replace(instance6With(""), `"fe80::51"`, `"ff02::12"`, 1), `virtual_ips[0] = "ff02::12" cannot be a virtual IP`, "multicast", 6, 24},
		{"vip unspecified", strings.Replace(instance6With(""), `"fe80::51"`, `"::"`, 1), `virtual_ips[0] = "::" cannot be a virtual IP`, "", 6, 24},
		{"unicast_source ipv4 on ipv6", instance6With(`unicast_source = "198.51.100.1"` + "\n  " + `unicast_peers = ["2001:db8:51::2"]`),
			`unicast_source = "198.51.100.1" is an IPv4 address`, "speaks VRRP over IPv6", 2, 20},
		{"unicast peer ipv4 on ipv6", instance6With(`unicast_peers = ["2001:db8:51::2", "198.51.100.2"]`),
			`unicast_peers[1] = "198.51.100.2" is an IPv4 address`, "", 2, 38},
		{"unicast peer with zone", instance6With(`unicast_peers = ["fe80::2%eth0"]`), `unicast_peers[0] = "fe80::2%eth0" is not an IP address`, "no zone", 2, 20},
		{"excluded repeats vip", instance6With(`excluded_ips = ["2001:db8:51::100"]`), `excluded_ips[0] = "2001:db8:51::100" repeats a virtual IP`, "once", 2, 19},
		{"excluded repeated", instance6With(`excluded_ips = ["198.51.100.10/24", "198.51.100.10"]`), `excluded_ips[1] = "198.51.100.10" repeats excluded_ips[0]`, "", 2, 39},
		{"excluded bad", instance6With(`excluded_ips = ["web"]`), `excluded_ips[0] = "web" is not an IP address`, "", 2, 19},
		{"excluded not a list", instance6With(`excluded_ips = "198.51.100.10"`), "excluded_ips", "", 2, 18},
		{"use_vmac not bool", instance6With(`use_vmac = "yes"`), "use_vmac", "", 2, 14},
		{"vmac_xmit_base without use_vmac", instance6With(`vmac_xmit_base = true`), "vmac_xmit_base = true without use_vmac", "needs use_vmac = true", 2, 20},
		{"vmac_xmit_base not bool", instance6With(`use_vmac = true` + "\n  " + `vmac_xmit_base = "yes"`), "vmac_xmit_base", "", 3, 20},
		{"vmac_interface without use_vmac", instance6With(`vmac_interface = "vip51"`), "vmac_interface without use_vmac", "add use_vmac = true", 2, 20},
		{"vmac_interface bad name", instance6With(`use_vmac = true` + "\n  " + `vmac_interface = "vip/51"`), `vmac_interface = "vip/51" is not an interface name`, "no '/'", 3, 20},
		{"vmac_interface the instance's own", instance6With(`use_vmac = true` + "\n  " + `vmac_interface = "eth0"`), `vmac_interface = "eth0" is the instance's own interface`, "", 3, 20},
		{"vmac_interface shared", instance6With("use_vmac = true\n  vmac_interface = \"vip51\"") +
			strings.Replace(strings.Replace(instance6With("use_vmac = true\n  vmac_interface = \"vip51\""), "VI_6", "VI_7", 1), "= 51", "= 52", 1),
			`vrrp_instance "VI_7" would name its macvlan vip51, as vrrp_instance "VI_6" (line 1) does`, "different names", 9, 1},
		{"same vrid same family ipv6", instance6With("") + strings.Replace(instance6With(""), "VI_6", "VI_7", 1),
			`virtual_router_id = 51 is already used on eth0 by vrrp_instance "VI_6" (line 1)`, "", 11, 23},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := ParseWith([]byte(tt.src), "t.hcl", testHost)
			if !diags.HasErrors() || cfg != nil {
				t.Fatalf("no error; want %q\nsource:\n%s", tt.summary, tt.src)
			}
			if errs := diags.Errs(); len(errs) != 1 {
				t.Errorf("want exactly one error, got %d:\n%s", len(errs), formatAll(diags))
			}
			d := firstError(diags)
			if !strings.Contains(d.Summary, tt.summary) {
				t.Errorf("summary = %q, want it to contain %q", d.Summary, tt.summary)
			}
			if tt.detail != "" && !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("detail = %q, want it to contain %q", d.Detail, tt.detail)
			}
			if d.Subject == nil || d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
				t.Errorf("at %v, want t.hcl:%d:%d (%s)", d.Subject, tt.line, tt.col, FormatDiagnostic(d))
			}
		})
	}
}

func TestParseAcceptsIPv6(t *testing.T) {
	src := instance6With(`excluded_ips = ["198.51.100.10/24", "2001:db8:51::200"]`+"\n  use_vmac = true\n  "+
		`unicast_source = "2001:db8:51::1"`+"\n  "+`unicast_peers = ["2001:db8:51::2", "fe80::2"]`) +
		// An IPv4 instance may share VRID 51 on eth0: another protocol.
		strings.Replace(instanceWith(""), "VI_1", "VI_4", 1)
	cfg, diags := ParseWith([]byte(src), "t.hcl", testHost)
	if diags.HasErrors() {
		t.Fatalf("rejected:\n%s", formatAll(diags))
	}
	if len(diags) != 0 {
		t.Errorf("want no warnings (the first VIP is link-local), got:\n%s", formatAll(diags))
	}
	in := cfg.Instances[0]
	want := []netip.Prefix{netip.MustParsePrefix("fe80::51/128"), netip.MustParsePrefix("2001:db8:51::100/64")}
	if !equalSlices(in.VirtualIPs, want) {
		t.Errorf("VirtualIPs = %v, want %v", in.VirtualIPs, want)
	}
	wantEx := []netip.Prefix{netip.MustParsePrefix("198.51.100.10/24"), netip.MustParsePrefix("2001:db8:51::200/128")}
	if !equalSlices(in.ExcludedIPs, wantEx) {
		t.Errorf("ExcludedIPs = %v, want %v", in.ExcludedIPs, wantEx)
	}
	if !in.UseVMAC || in.VMACXmitBase || in.Version != 3 || in.UnicastSource != netip.MustParseAddr("2001:db8:51::1") || len(in.UnicastPeers) != 2 {
		t.Errorf("instance = %+v", in)
	}
	if cfg.Instances[1].VRID != 51 || cfg.Instances[1].UseVMAC {
		t.Errorf("IPv4 instance = %+v", cfg.Instances[1])
	}
}

func TestIPv6GlobalFirstVIPWarns(t *testing.T) {
	src := strings.Replace(instance6With(""), `["fe80::51", "2001:db8:51::100/64"]`, `["2001:db8:51::100/64"]`, 1)
	cfg, diags := ParseWith([]byte(src), "t.hcl", testHost)
	if diags.HasErrors() || cfg == nil {
		t.Fatalf("rejected:\n%s", formatAll(diags))
	}
	if len(diags) != 1 || !strings.Contains(diags[0].Summary, "2001:db8:51::100 is not link-local") ||
		diags[0].Subject.Start.Line != 6 || diags[0].Subject.Start.Column != 23 {
		t.Errorf("want one link-local warning at 6:23, got:\n%s", formatAll(diags))
	}
}

// TestCheckClusterDualStack: an IPv4 and an IPv6 instance on one VRID are
// two virtual routers to the cluster check too.
func TestCheckClusterDualStack(t *testing.T) {
	six := func(prio string) string {
		return "}\n" + `vrrp_instance "VI_6" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = ` + prio + `
  virtual_ips       = ["fe80::51", "2001:db8:51::100/64"]`
	}
	a := clusterNode(t, "lb-1", 150, six("150"))
	b := clusterNode(t, "lb-2", 100, six("100"))
	var out strings.Builder
	diags := CheckCluster([]*Config{a, b})
	WriteDiagnostics(&out, diags)
	if len(diags) != 0 {
		t.Errorf("a dual-stack pair: %s", out.String())
	}
	b = clusterNode(t, "lb-2", 100, six("150"))
	out.Reset()
	WriteDiagnostics(&out, CheckCluster([]*Config{a, b}))
	if !strings.Contains(out.String(), "VRID 51 on eth0 (IPv6)") || strings.Count(out.String(), "error") != 1 {
		t.Errorf("equal IPv6 priorities: %s", out.String())
	}
}

func TestVMACXmitBaseWithUnicastWarns(t *testing.T) {
	src := instance6With("use_vmac = true\n  vmac_xmit_base = true\n  " + `unicast_peers = ["2001:db8:51::2"]`)
	cfg, diags := ParseWith([]byte(src), "t.hcl", testHost)
	if diags.HasErrors() || cfg == nil {
		t.Fatalf("rejected:\n%s", formatAll(diags))
	}
	if len(diags) != 1 || !strings.Contains(diags[0].Summary, "vmac_xmit_base changes nothing with unicast_peers") ||
		diags[0].Subject.Start.Line != 3 || diags[0].Subject.Start.Column != 20 {
		t.Errorf("want one warning at 3:20, got:\n%s", formatAll(diags))
	}
	if in := cfg.Instances[0]; !in.UseVMAC || !in.VMACXmitBase {
		t.Errorf("instance = %+v", in)
	}
}

func TestVMACInterfaceNamesTheMacvlan(t *testing.T) {
	src := instance6With("use_vmac = true\n  vmac_interface = \"vip51\"")
	cfg, diags := ParseWith([]byte(src), "t.hcl", testHost)
	if diags.HasErrors() || cfg == nil {
		t.Fatalf("rejected:\n%s", formatAll(diags))
	}
	if in := cfg.Instances[0]; in.VMACInterface != "vip51" || in.VMACName() != "vip51" {
		t.Errorf("instance = %+v", in)
	}
	in := cfg.Instances[0]
	in.VMACInterface = ""
	if got := in.VMACName(); got != "vrrp6.51" {
		t.Errorf("default name %q, want vrrp6.51", got)
	}
}
