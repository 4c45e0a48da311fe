package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestJSONMatchesHCL loads the example in both syntaxes: the same
// configuration must come out.
func TestJSONMatchesHCL(t *testing.T) {
	load := func(name string) *Config {
		src, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		cfg, diags := ParseWith(src, name, testHost)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags)
		}
		// Ranges and raw bodies differ between syntaxes by nature.
		for i := range cfg.Instances {
			cfg.Instances[i].DeclRange = hcl.Range{}
			for j := range cfg.Instances[i].TrackChecks {
				cfg.Instances[i].TrackChecks[j].DeclRange = hcl.Range{}
			}
		}
		for i := range cfg.Checks {
			cfg.Checks[i].DeclRange, cfg.Checks[i].PluginRange, cfg.Checks[i].Config = hcl.Range{}, hcl.Range{}, nil
		}
		return cfg
	}
	h, j := load("example.hcl"), load("example.json")
	if hs, js := strings.ReplaceAll(fmtConfig(h), "example.hcl", ""), strings.ReplaceAll(fmtConfig(j), "example.json", ""); hs != js {
		t.Fatalf("HCL and JSON differ:\nHCL  %s\nJSON %s", hs, js)
	}
}

func fmtConfig(c *Config) string {
	var b strings.Builder
	b.WriteString(c.NodeName + c.PluginDir + c.LogLevel + c.LogFormat + c.Control.Socket + c.Metrics.Listen)
	for _, in := range c.Instances {
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(
			strings.Join([]string{in.Name, in.Interface, in.AuthPass, in.Notify, in.AdvertInterval.String(), in.UnicastSource.String()}, ","), " ", ""), "\n", ""))
		for _, v := range in.VirtualIPs {
			b.WriteString(v.String())
		}
		for _, p := range in.UnicastPeers {
			b.WriteString(p.String())
		}
		for _, tc := range in.TrackChecks {
			b.WriteString(tc.Check)
			b.WriteByte(byte(tc.Weight + 128))
		}
		b.WriteString(strings.Join(in.TrackInterfaces, ","))
		b.WriteByte(in.VRID)
		b.WriteByte(in.Priority)
		b.WriteByte(in.Version)
	}
	for _, c := range c.Checks {
		b.WriteString(c.Name + c.Plugin + c.Interval.String() + c.Timeout.String())
		b.WriteByte(byte(c.Rise))
		b.WriteByte(byte(c.Fall))
	}
	return b.String()
}

// TestJSONDiagnostics: a JSON file's errors keep file:line:col, with the
// same rules as HCL.
func TestJSONDiagnostics(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"out of range", "{\n  \"vrrp_instance\": {\"VI_1\": {\n    \"interface\": \"eth0\",\n    \"virtual_router_id\": 300,\n    \"priority\": 100,\n    \"virtual_ips\": [\"198.51.100.1\"]\n  }}\n}\n", "c.json:4:26: error:"},
		{"unknown key", "{\n  \"bogus\": 1\n}\n", "c.json:2:3: error:"},
		{"not JSON", "{\n  \"node_name\": \n", "c.json:3:1: error:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := ParseWith([]byte(tt.src), "c.json", testHost)
			if cfg != nil || !diags.HasErrors() {
				t.Fatalf("accepted: %+v", cfg)
			}
			var b strings.Builder
			WriteDiagnostics(&b, diags)
			if !strings.Contains(b.String(), tt.want) {
				t.Fatalf("diagnostics %q lack %q", b.String(), tt.want)
			}
		})
	}
}

func TestReadControlLeniently(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(src), 0o644)
		return p
	}
	tests := []struct {
		name, file, src, want string
	}{
		{"valid", "a.hcl", "control { socket = \"/run/a.sock\" }\n", "/run/a.sock"},
		{"invalid elsewhere", "b.hcl", "control {\n  socket = \"/run/b.sock\"\n  group = \"ops\"\n}\nbogus = 1\nvrrp_instance \"x\" { priority = 999 }\n", "/run/b.sock"},
		{"unparseable", "c.hcl", "control { socket = \"/run/c.sock\" }\nvrrp_instance {{{ \"\n", "/run/c.sock"},
		{"no control block", "d.hcl", "node_name = \"x\"\n", DefaultControlSocket},
		{"json", "e.json", "{\"control\": {\"socket\": \"/run/e.sock\"}, \"bogus\": 1}", "/run/e.sock"},
		{"broken json", "f.json", "{\"control\": {\"socket\": \"/run/f.sock\"}, \"bogus\": ", "/run/f.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ReadControl(write(tt.file, tt.src))
			if err != nil || c.Socket != tt.want {
				t.Fatalf("ReadControl = %+v, %v; want socket %s", c, err, tt.want)
			}
		})
	}
	if _, err := ReadControl(filepath.Join(dir, "none.hcl")); err == nil || !strings.Contains(err.Error(), "--socket") {
		t.Fatalf("a missing file: %v", err)
	}
}

func TestControlGroupAndStateDir(t *testing.T) {
	cfg, diags := ParseWith([]byte("control {\n  group = \"hasidecar\"\n}\nstate_dir = \"/tmp/st\"\n"), "c.hcl", testHost)
	if diags.HasErrors() || cfg.Control.Group != "hasidecar" || cfg.StateDir != "/tmp/st" {
		t.Fatalf("%+v %v", cfg, diags)
	}
	for src, want := range map[string]string{
		"control {\n  group = \"a b\"\n}\n": "c.hcl:2:11: error: group = \"a b\" is not a group name",
		"state_dir = \"rel\"\n":             "c.hcl:1:13: error: state_dir = \"rel\" is not an absolute path",
	} {
		_, diags := ParseWith([]byte(src), "c.hcl", testHost)
		var b strings.Builder
		WriteDiagnostics(&b, diags)
		if !strings.Contains(b.String(), want) {
			t.Errorf("%q: %q lacks %q", src, b.String(), want)
		}
	}
}

// FuzzParseJSON feeds the JSON syntax the same way: never a panic, errors
// only with a nil configuration, every diagnostic one line with a position.
func FuzzParseJSON(f *testing.F) {
	if example, err := os.ReadFile("testdata/example.json"); err == nil {
		f.Add(example)
	}
	for _, seed := range []string{"", "{}", `{"node_name": null}`, `{"vrrp_instance": {"x": []}}`, `{"check": {"a": {"config": 1}}}`, `[1, 2]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := ParseWith(src, "fuzz.json", testHost)
		if diags.HasErrors() != (cfg == nil) {
			t.Fatalf("HasErrors = %v but cfg = %v", diags.HasErrors(), cfg)
		}
		for _, d := range diags {
			if line := FormatDiagnostic(d); strings.Contains(line, "\n") || d.Subject == nil {
				t.Fatalf("diagnostic %q (subject %v)", line, d.Subject)
			}
		}
	})
}
