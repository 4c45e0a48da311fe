package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateAsksThePlugins runs `hasidecar validate` with the real plugins
// beside it: each check's config block is checked against its plugin's
// schema and by the plugin itself, with file:line:col diagnostics.
func TestValidateAsksThePlugins(t *testing.T) {
	base := `
control { socket = "/run/hasidecar-e2e-validate.sock" }
vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.100/24"]
  track_check "web" { weight = -60 }
}
`
	tests := []struct {
		name  string
		check string
		code  int
		want  string
	}{
		{"valid", `check "web" {
  plugin = "httpget"
  config {
    url    = "http://127.0.0.1/healthz"
    digest = "3858f62230ac3c915f300c664312c63f"
  }
}`, 0, "valid (1 instance, 1 check)"},
		{"unknown key", `check "web" {
  plugin = "httpget"
  config {
    url = "http://127.0.0.1/"
    urll = "http://127.0.0.1/"
  }
}`, 1, "c.hcl:15:5: error: Unsupported argument"},
		{"missing required key", `check "web" {
  plugin = "tcp"
  config {}
}`, 1, `c.hcl:13:10: error: Missing required argument; The argument "address" is required`},
		{"wrong type", `check "web" {
  plugin = "httpget"
  config {
    url         = "http://127.0.0.1/"
    status_code = "two hundred"
  }
}`, 1, "c.hcl:15:19: error: Incorrect attribute value type"},
		{"refused by the plugin", `check "web" {
  plugin = "httpget"
  config { url = "ftp://127.0.0.1/" }
}`, 1, `c.hcl:13:18: error: url "ftp://127.0.0.1/" must be an http:// or https:// URL`},
		{"no such plugin", `check "web" {
  plugin = "nosuch"
}`, 1, `c.hcl:12:12: error: Plugin "nosuch" is not available`},
		{"pinned to another binary", `plugin "tcp" { sha256 = "` + strings.Repeat("0", 64) + `" }
check "web" {
  plugin = "tcp"
  config { address = "127.0.0.1:80" }
}`, 1, "does not match its pinned sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.hcl")
			if err := os.WriteFile(path, []byte(base+"\n"+tt.check+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(binary, "validate", "--config", path).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			got := strings.ReplaceAll(string(out), filepath.Dir(path)+"/", "")
			if code != tt.code || !strings.Contains(got, tt.want) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d and %q", code, got, tt.code, tt.want)
			}
		})
	}
}
