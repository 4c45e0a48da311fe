package config

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// maxCount bounds rise and fall: beyond it a check could never change state in
// a useful time, and it keeps the numbers well inside int on every platform.
const maxCount = 1_000_000

func checkSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "plugin"}, {Name: "interval"}, {Name: "timeout"}, {Name: "rise"}, {Name: "fall"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "config"}},
	}
}

// check decodes one `check "NAME"` block. The check is returned even when it
// has errors, so that track_check references to it do not cascade.
func (d *decoder) check(blk *hcl.Block) Check {
	content, diags := blk.Body.Content(checkSchema())
	d.diags = append(d.diags, diags...)
	c := Check{
		Name:      blk.Labels[0],
		Interval:  DefaultCheckInterval,
		Rise:      DefaultCheckRise,
		Fall:      DefaultCheckFall,
		DeclRange: blk.DefRange,
	}

	if a, ok := content.Attributes["plugin"]; ok {
		c.PluginRange = a.Expr.Range()
		if s, ok := d.str(a, `"httpget"`); ok {
			if reason := badPluginName(s); reason != "" {
				d.valueError(a, d.shown(a)+" is not a plugin name",
					reason+`; name the plugin as in hasidecar-plugin-NAME, for example plugin = "httpget"`)
			}
			c.Plugin = s
		}
	} else {
		d.errorAt(blk.DefRange, nil, fmt.Sprintf("check %q has no plugin", c.Name),
			`add plugin = "NAME" for the executable hasidecar-plugin-NAME in plugin_dir, for example plugin = "httpget"`)
	}

	intervalOK := true
	if a, ok := content.Attributes["interval"]; ok {
		c.Interval, intervalOK = d.positiveDuration(a, `"1s"`)
	}
	c.Timeout = c.Interval
	if a, ok := content.Attributes["timeout"]; ok {
		if t, ok := d.positiveDuration(a, `"500ms"`); ok {
			c.Timeout = t
			if intervalOK && t > c.Interval {
				d.valueError(a, fmt.Sprintf("%s is longer than interval (%s)", d.shown(a), c.Interval),
					"a check must finish before the next one is due; make timeout at most the interval")
			}
		}
	}
	const countFix = "use a whole number of 1 or more"
	if a, ok := content.Attributes["rise"]; ok {
		c.Rise, _ = d.intIn(a, 1, maxCount, countFix)
	}
	if a, ok := content.Attributes["fall"]; ok {
		c.Fall, _ = d.intIn(a, 1, maxCount, countFix)
	}

	var configSeen *hcl.Block
	for _, cb := range content.Blocks {
		if d.once(cb, &configSeen) {
			c.Config = cb.Body
		}
	}
	if c.Config == nil {
		// An empty native body whose missing-item range is this check's opening
		// brace: a plugin schema's "missing required argument" points here.
		missing := blk.Body.MissingItemRange()
		c.Config = &hclsyntax.Body{SrcRange: missing, EndRange: missing}
	}
	return c
}

// positiveDuration decodes a duration that must be greater than zero.
func (d *decoder) positiveDuration(a *hcl.Attribute, example string) (time.Duration, bool) {
	dur, ok := d.duration(a, example)
	if !ok {
		return 0, false
	}
	if dur <= 0 {
		d.valueError(a, d.shown(a)+" must be greater than zero", fmt.Sprintf("use for example %s = %s", a.Name, example))
		return 0, false
	}
	return dur, true
}

// badPluginName says why s cannot name a plugin executable, or "" if it can.
// Only letters, digits, '-' and '_' are allowed: the name becomes part of a
// file name and must never reach outside plugin_dir.
func badPluginName(s string) string {
	if s == "" {
		return "it is empty"
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return fmt.Sprintf("it contains %q; use only letters, digits, '-' and '_'", r)
		}
	}
	return ""
}
