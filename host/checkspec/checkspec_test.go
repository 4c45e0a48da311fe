package checkspec

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/sdk"
)

var httpSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "url", Type: sdk.String, Required: true},
	{Name: "status_code", Type: sdk.ListNumber},
	{Name: "insecure_skip_verify", Type: sdk.Bool},
}}

func body(t *testing.T, src string) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "c.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return f.Body
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantJSON string
		wantErr  string // summary substring
		line     int
		col      int
	}{
		{"all set", "url = \"http://x/\"\nstatus_code = [200, 204]\ninsecure_skip_verify = true\n",
			`{"insecure_skip_verify":true,"status_code":[200,204],"url":"http://x/"}`, "", 0, 0},
		{"only required, unset ones left out", `url = "http://x/"`, `{"url":"http://x/"}`, "", 0, 0},
		{"a quoted number is not a number", "url = \"u\"\nstatus_code = [200, \"301\"]\n", "", "status_code must be a list(number)", 2, 15},
		{"a quoted bool is not a bool", "url = \"u\"\ninsecure_skip_verify = \"true\"\n", "", "insecure_skip_verify must be a bool", 2, 24},
		{"unknown key", "url = \"u\"\nbogus = 1\n", "", "Unsupported argument", 2, 1},
		{"missing required: at the block", `status_code = [200]`, "", "Missing required argument", 1, 1},
		{"wrong type", "url = \"u\"\ninsecure_skip_verify = \"maybe\"\n", "", "Incorrect attribute value type", 2, 24},
		{"list where a string goes", `url = ["a"]`, "", "Incorrect attribute value type", 1, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := Decode(body(t, tt.src), httpSchema, "httpget")
			if tt.wantErr == "" {
				if diags.HasErrors() {
					t.Fatalf("unexpected diagnostics: %v", diags)
				}
				if string(got) != tt.wantJSON {
					t.Fatalf("JSON %s, want %s", got, tt.wantJSON)
				}
				return
			}
			if !diags.HasErrors() {
				t.Fatalf("accepted %q: %s", tt.src, got)
			}
			d := diags[0]
			if !strings.Contains(d.Summary+": "+d.Detail, tt.wantErr) {
				t.Errorf("diagnostic %q: %q, want %q", d.Summary, d.Detail, tt.wantErr)
			}
			if d.Subject == nil || d.Subject.Filename != "c.hcl" || d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
				t.Errorf("at %v, want c.hcl:%d:%d", d.Subject, tt.line, tt.col)
			}
		})
	}
}

func TestInvalidSchemaIsThePluginsFault(t *testing.T) {
	for _, s := range []sdk.Schema{
		{Attributes: []sdk.Attribute{{Name: "x", Type: "tuple"}}},
		{Attributes: []sdk.Attribute{{Name: "1x", Type: sdk.String}}},
		{Attributes: []sdk.Attribute{{Name: "x", Type: sdk.String}, {Name: "x", Type: sdk.Bool}}},
	} {
		_, diags := Decode(body(t, ""), s, "broken")
		if !diags.HasErrors() || !strings.Contains(diags[0].Summary, `Plugin "broken" declares an invalid schema`) {
			t.Errorf("schema %v: %v", s, diags)
		}
	}
}

func TestPluginDiagnosticsPointAtTheAttribute(t *testing.T) {
	b := body(t, "url = \"ftp://x/\"\nstatus_code = [200]\n")
	diags := PluginDiagnostics(b, sdk.Diagnostics{
		{Severity: sdk.Error, Summary: "url must be http or https", Attribute: "url"},
		{Severity: sdk.Warning, Summary: "odd", Attribute: "status_code"},
		{Severity: sdk.Error, Summary: "whole block"},
		{Severity: sdk.Error, Summary: "unset attribute", Attribute: "digest"},
	}, "httpget")
	want := []struct {
		sev       hcl.DiagnosticSeverity
		line, col int
	}{{hcl.DiagError, 1, 7}, {hcl.DiagWarning, 2, 15}, {hcl.DiagError, 1, 1}, {hcl.DiagError, 1, 1}}
	if len(diags) != len(want) {
		t.Fatalf("got %d diagnostics", len(diags))
	}
	for i, w := range want {
		d := diags[i]
		if d.Severity != w.sev || d.Subject.Start.Line != w.line || d.Subject.Start.Column != w.col {
			t.Errorf("diag %d %q at %v severity %v, want %d:%d", i, d.Summary, d.Subject, d.Severity, w.line, w.col)
		}
		if !strings.Contains(d.Detail, "httpget") {
			t.Errorf("diag %d does not name the plugin: %q", i, d.Detail)
		}
	}
}

// fakePlugins stands in for the plugin manager: this package's job is the
// HCL side, tested here; real plugin processes are tested in host/plugin.
type fakePlugins struct {
	schemas  map[string]sdk.Schema
	validate func(cfg []byte) sdk.Diagnostics
}

func (f fakePlugins) Schema(_ context.Context, name string) (sdk.Schema, error) {
	s, ok := f.schemas[name]
	if !ok {
		return sdk.Schema{}, fmt.Errorf("/usr/lib/hasidecar/plugins/hasidecar-plugin-%s not found", name)
	}
	return s, nil
}

func (f fakePlugins) Validate(_ context.Context, _ string, cfg []byte) (sdk.Diagnostics, error) {
	return f.validate(cfg), nil
}

func TestResolve(t *testing.T) {
	src := `
check "nginx" {
  plugin = "httpget"
  config {
    url = "ftp://127.0.0.1/"
  }
}
check "good" {
  plugin = "httpget"
  config { url = "http://127.0.0.1/" }
}
check "ghost" {
  plugin = "nosuch"
}
vrrp_instance "VI_1" {
  interface = "eth0"
  virtual_router_id = 51
  priority = 100
  virtual_ips = ["198.51.100.100/24"]
}
`
	cfg, diags := config.Parse([]byte(src), "h.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := fakePlugins{
		schemas: map[string]sdk.Schema{"httpget": httpSchema},
		validate: func(cfg []byte) sdk.Diagnostics {
			if strings.Contains(string(cfg), "ftp:") {
				return sdk.Errorf("url", "url must be http or https")
			}
			return nil
		},
	}
	resolved, diags := Resolve(context.Background(), cfg.Checks, p)
	if len(resolved) != 1 || resolved[0].Name != "good" || string(resolved[0].JSON) != `{"url":"http://127.0.0.1/"}` {
		t.Fatalf("resolved %+v", resolved)
	}
	if len(diags) != 2 {
		t.Fatalf("diags %v", diags)
	}
	got := []string{}
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%d:%d %s", d.Subject.Start.Line, d.Subject.Start.Column, d.Summary))
	}
	want := []string{`5:11 url must be http or https`, `13:12 Plugin "nosuch" is not available`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("diagnostics %q, want %q", got, want)
	}
}
