// Package checkspec validates a check's `config {}` block against the schema
// its plugin declares, the way Nomad validates a task driver's config: the
// schema becomes an hcldec spec and the user's native HCL body is decoded
// against it, so every diagnostic keeps its file:line:col. The decoded value
// goes to the plugin as a JSON object.
package checkspec

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/hasidecar/hasidecar/sdk"
)

// Spec turns a plugin's schema into an hcldec spec.
func Spec(s sdk.Schema) (hcldec.ObjectSpec, error) {
	spec := hcldec.ObjectSpec{}
	for _, a := range s.Attributes {
		t, err := ctyType(a.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
		}
		if !hclsyntaxValidIdentifier(a.Name) {
			return nil, fmt.Errorf("attribute name %q is not a valid HCL identifier", a.Name)
		}
		if _, dup := spec[a.Name]; dup {
			return nil, fmt.Errorf("attribute %q is declared twice", a.Name)
		}
		spec[a.Name] = &hcldec.AttrSpec{Name: a.Name, Type: t, Required: a.Required}
	}
	return spec, nil
}

func ctyType(t sdk.Type) (cty.Type, error) {
	switch t {
	case sdk.String:
		return cty.String, nil
	case sdk.Number:
		return cty.Number, nil
	case sdk.Bool:
		return cty.Bool, nil
	case sdk.ListString:
		return cty.List(cty.String), nil
	case sdk.ListNumber:
		return cty.List(cty.Number), nil
	case sdk.MapOfString:
		return cty.Map(cty.String), nil
	}
	return cty.NilType, fmt.Errorf("unknown type %q", t)
}

func hclsyntaxValidIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case i > 0 && (r == '-' || (r >= '0' && r <= '9')):
		default:
			return false
		}
	}
	return true
}

// Decode validates body against the plugin's schema and returns the JSON
// object the plugin receives: one member per attribute the user set.
// plugin names the plugin in messages.
func Decode(body hcl.Body, schema sdk.Schema, plugin string) ([]byte, hcl.Diagnostics) {
	spec, err := Spec(schema)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Plugin %q declares an invalid schema", plugin),
			Detail:   err.Error() + "; this is a bug in the plugin.",
			Subject:  body.MissingItemRange().Ptr(),
		}}
	}
	if diags := strictTypes(body, schema); diags.HasErrors() {
		return nil, diags
	}
	val, diags := hcldec.Decode(body, spec, nil)
	if diags.HasErrors() {
		return nil, diags
	}
	// Leave out what the user did not set, so that plugins keep their own
	// defaults (sdk.Config.Decode documents this).
	set := map[string]cty.Value{}
	for name, v := range val.AsValueMap() {
		if !v.IsNull() {
			set[name] = v
		}
	}
	obj := cty.EmptyObjectVal
	if len(set) > 0 {
		obj = cty.ObjectVal(set)
	}
	b, err := ctyjson.Marshal(obj, obj.Type())
	if err != nil {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot encode the check's configuration",
			Detail:   err.Error(),
			Subject:  body.MissingItemRange().Ptr(),
		})
	}
	return b, diags
}

// PluginDiagnostics places the plugin's own diagnostics (from its New) on the
// attribute they name, or on the block when they name none.
func PluginDiagnostics(body hcl.Body, ds sdk.Diagnostics, plugin string) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range ds {
		sev := hcl.DiagError
		if d.Severity == sdk.Warning {
			sev = hcl.DiagWarning
		}
		subject := body.MissingItemRange()
		if d.Attribute != "" {
			content, _, _ := body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: d.Attribute}}})
			if a, ok := content.Attributes[d.Attribute]; ok {
				subject = a.Expr.Range()
			}
		}
		detail := d.Detail
		if detail == "" {
			detail = fmt.Sprintf("Reported by plugin %q.", plugin)
		}
		out = append(out, &hcl.Diagnostic{Severity: sev, Summary: d.Summary, Detail: detail, Subject: subject.Ptr()})
	}
	return out
}

// strictTypes rejects a quoted value where the schema wants a number or a
// bool: hcldec would turn "100" into 100 and "true" into true, and a
// plugin's schema promises the user that it checks types.
func strictTypes(body hcl.Body, schema sdk.Schema) hcl.Diagnostics {
	want := map[string]sdk.Type{}
	var attrs []hcl.AttributeSchema
	for _, a := range schema.Attributes {
		switch a.Type {
		case sdk.Number, sdk.Bool, sdk.ListNumber:
			want[a.Name] = a.Type
			attrs = append(attrs, hcl.AttributeSchema{Name: a.Name})
		}
	}
	if len(attrs) == 0 {
		return nil
	}
	content, _, _ := body.PartialContent(&hcl.BodySchema{Attributes: attrs})
	var diags hcl.Diagnostics
	for name, a := range content.Attributes {
		v, vd := a.Expr.Value(nil)
		if vd.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
			continue // hcldec reports these
		}
		var bad bool
		switch want[name] {
		case sdk.Number:
			bad = v.Type() != cty.Number
		case sdk.Bool:
			bad = v.Type() != cty.Bool
		case sdk.ListNumber:
			if v.CanIterateElements() {
				for it := v.ElementIterator(); it.Next(); {
					if _, e := it.Element(); e.Type() != cty.Number {
						bad = true
					}
				}
			}
		}
		if bad {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Incorrect attribute value type",
				Detail:   fmt.Sprintf("%s must be a %s; write it without quotes (%s).", name, want[name], typeExample(want[name])),
				Subject:  a.Expr.Range().Ptr(),
			})
		}
	}
	return diags
}

func typeExample(t sdk.Type) string {
	switch t {
	case sdk.Number:
		return "for example 100"
	case sdk.Bool:
		return "true or false"
	default:
		return "for example [200, 301]"
	}
}
