package checkspec

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/sdk"
)

// Plugins is what Resolve needs from the plugin manager.
type Plugins interface {
	Schema(ctx context.Context, plugin string) (sdk.Schema, error)
	Validate(ctx context.Context, plugin string, cfg []byte) (sdk.Diagnostics, error)
}

// Resolved is a check whose configuration its plugin has accepted.
type Resolved struct {
	config.Check
	// JSON is the decoded `config {}` block as the plugin receives it.
	JSON []byte
}

// Resolve validates every check's `config {}` block: against its plugin's
// schema first (HCL diagnostics with file:line:col), then by the plugin
// itself. A plugin that cannot be started is reported at the check's
// `plugin` line.
func Resolve(ctx context.Context, checks []config.Check, p Plugins) ([]Resolved, hcl.Diagnostics) {
	var out []Resolved
	var diags hcl.Diagnostics
	schemas := map[string]sdk.Schema{}
	failed := map[string]error{}
	for _, c := range checks {
		schema, ok := schemas[c.Plugin]
		if !ok && failed[c.Plugin] == nil {
			s, err := p.Schema(ctx, c.Plugin)
			if err != nil {
				failed[c.Plugin] = err
			} else {
				schemas[c.Plugin], schema, ok = s, s, true
			}
		}
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Plugin %q is not available", c.Plugin),
				Detail:   fmt.Sprintf("check %q: %v", c.Name, failed[c.Plugin]),
				Subject:  pluginRange(c).Ptr(),
			})
			continue
		}
		js, ds := Decode(c.Config, schema, c.Plugin)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		pds, err := p.Validate(ctx, c.Plugin, js)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Plugin %q failed to validate check %q", c.Plugin, c.Name),
				Detail:   err.Error(),
				Subject:  pluginRange(c).Ptr(),
			})
			continue
		}
		pd := PluginDiagnostics(c.Config, pds, c.Plugin)
		diags = append(diags, pd...)
		if !pd.HasErrors() {
			out = append(out, Resolved{Check: c, JSON: js})
		}
	}
	return out, diags
}

func pluginRange(c config.Check) hcl.Range {
	if c.PluginRange.Filename != "" {
		return c.PluginRange
	}
	return c.DeclRange
}
