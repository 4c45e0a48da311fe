package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser: it must never panic, must
// return a Config exactly when there is no error, and every error must render
// as one line with a position.
func FuzzParse(f *testing.F) {
	if example, err := os.ReadFile("testdata/example.hcl"); err == nil {
		f.Add(example)
	}
	f.Add([]byte(designExample))
	for _, seed := range []string{
		"",
		"node_name = \n",
		`log_level = ["info"]`,
		`metrics { listen = "127.0.0.1" }`,
		checkWith(`interval = "5"`),
		checkWith(`timeout = "2s"`),
		checkWith("config {}\n  config {}"),
		strings.Replace(instanceWith(""), "= 51", "= 300", 1),
		strings.Replace(instanceWith(""), "= 51", "= 1e300", 1),
		instanceWith(`version = null`),
		instanceWith(`version = var.v`),
		instanceWith(`advert_interval = "15ms"`),
		instanceWith("version = 2\n  auth_pass = \"123456789\""),
		instanceWith(`unicast_peers = ["198.51.100.2", "peer-b"]`),
		instanceWith(`track_check "" {}`),
		instance6With(`version = 2`),
		instance6With(`excluded_ips = ["198.51.100.10/24", "fe80::1%eth0"]` + "\n  use_vmac = 1"),
		instance6With(`unicast_peers = ["2001:db8:51::2", "198.51.100.2"]`),
		instance6With("") + instanceWith(""),
		instanceWith(`virtual_ips = upper("x")`),
		instanceWith("") + instanceWith(""),
		`vrrp_instance "x" { virtual_ips = [for v in ["a"] : v] }`,
		`vrrp_instance "x" { virtual_ips = ["${"a"}"] }`,
		`check "a" { plugin = "tcp" } check "a" {}`,
		"vrrp_instance {\n}\n",
		`vrrp_instance "x" "y" {}`,
		`{"node_name": "x"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := ParseWith(src, "fuzz.hcl", testHost)
		if diags.HasErrors() != (cfg == nil) {
			t.Fatalf("HasErrors = %v but cfg = %v", diags.HasErrors(), cfg)
		}
		for _, d := range diags {
			line := FormatDiagnostic(d)
			if strings.Contains(line, "\n") {
				t.Fatalf("diagnostic spans lines: %q", line)
			}
			if d.Subject == nil {
				t.Fatalf("diagnostic without position: %q", line)
			}
		}
		if cfg == nil {
			return
		}
		for _, c := range cfg.Checks {
			if c.Config == nil || c.Timeout > c.Interval || c.Rise < 1 || c.Fall < 1 {
				t.Fatalf("invalid check accepted: %+v", c)
			}
		}
		for _, in := range cfg.Instances {
			if in.VRID == 0 || in.Priority == 0 || len(in.VirtualIPs) == 0 || in.Interface == "" {
				t.Fatalf("invalid instance accepted: %+v", in)
			}
		}
	})
}
