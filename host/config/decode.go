package config

import (
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder turns attribute expressions into Go values, collecting diagnostics
// that quote the value as the user wrote it.
type decoder struct {
	src   []byte
	diags hcl.Diagnostics
}

// errorAt records an error whose subject is rng and whose context is ctx (may be nil).
func (d *decoder) errorAt(rng hcl.Range, ctx *hcl.Range, summary, detail string) {
	r := rng
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  &r,
		Context:  ctx,
	})
}

// valueError reports a bad value of attribute attr, pointing at the value.
func (d *decoder) valueError(attr *hcl.Attribute, summary, detail string) {
	d.errorAt(attr.Expr.Range(), attr.Range.Ptr(), summary, detail)
}

// valueWarning warns of attribute attr's value, pointing at the value.
func (d *decoder) valueWarning(attr *hcl.Attribute, summary, detail string) {
	r := attr.Expr.Range()
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   detail,
		Subject:  &r,
		Context:  attr.Range.Ptr(),
	})
}

// quote is the source text of rng, shortened to one line, for messages.
func (d *decoder) quote(rng hcl.Range) string {
	if rng.Start.Byte < 0 || rng.End.Byte > len(d.src) || rng.Start.Byte > rng.End.Byte {
		return "(value)"
	}
	text := strings.Join(strings.Fields(string(d.src[rng.Start.Byte:rng.End.Byte])), " ")
	const maxLen = 40
	if utf8.RuneCountInString(text) > maxLen {
		runes := []rune(text)
		text = string(runes[:maxLen]) + "…"
	}
	if text == "" {
		return "(value)"
	}
	return text
}

// shown is "name = <value as written>".
func (d *decoder) shown(attr *hcl.Attribute) string {
	return attr.Name + " = " + d.quote(attr.Expr.Range())
}

// value evaluates expr without variables or functions and refuses null.
func (d *decoder) value(name string, expr hcl.Expression, ctxRange *hcl.Range) (cty.Value, bool) {
	v, diags := expr.Value(nil)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	if v.IsNull() {
		d.errorAt(expr.Range(), ctxRange, name+" is null", "give it a value or remove the line to use the default")
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		d.errorAt(expr.Range(), ctxRange, name+" has no known value", "use a literal value")
		return cty.NilVal, false
	}
	return v, true
}

// str decodes attr as a string. example is a literal shown in the fix.
func (d *decoder) str(attr *hcl.Attribute, example string) (string, bool) {
	return d.strExpr(attr.Name, attr.Expr, attr.Range.Ptr(), example)
}

func (d *decoder) strExpr(name string, expr hcl.Expression, ctxRange *hcl.Range, example string) (string, bool) {
	v, ok := d.value(name, expr, ctxRange)
	if !ok {
		return "", false
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil || sv.IsNull() {
		d.errorAt(expr.Range(), ctxRange,
			fmt.Sprintf("%s = %s is not a string", name, d.quote(expr.Range())),
			fmt.Sprintf("write it in quotes, for example %s = %s", name, example))
		return "", false
	}
	return sv.AsString(), true
}

// boolean decodes attr as a bool.
func (d *decoder) boolean(attr *hcl.Attribute) (bool, bool) {
	v, ok := d.value(attr.Name, attr.Expr, attr.Range.Ptr())
	if !ok {
		return false, false
	}
	bv, err := convert.Convert(v, cty.Bool)
	if err != nil || bv.IsNull() {
		d.valueError(attr, d.shown(attr)+" is not a boolean", "use true or false")
		return false, false
	}
	return bv.True(), true
}

// intIn decodes attr as a whole number within [lo, hi]. fix is the advice
// given for any bad value; empty means "use lo to hi".
func (d *decoder) intIn(attr *hcl.Attribute, lo, hi int, fix string) (int, bool) {
	if fix == "" {
		fix = fmt.Sprintf("use %d to %d", lo, hi)
	}
	v, ok := d.value(attr.Name, attr.Expr, attr.Range.Ptr())
	if !ok {
		return 0, false
	}
	nv, err := convert.Convert(v, cty.Number)
	if err != nil || nv.IsNull() {
		d.valueError(attr, d.shown(attr)+" is not a number", fix)
		return 0, false
	}
	bf := nv.AsBigFloat()
	if bf.IsInf() {
		d.valueError(attr, d.shown(attr)+" is out of range", fix)
		return 0, false
	}
	if !bf.IsInt() {
		d.valueError(attr, d.shown(attr)+" is not a whole number", fix)
		return 0, false
	}
	if bf.Cmp(big.NewFloat(float64(lo))) < 0 || bf.Cmp(big.NewFloat(float64(hi))) > 0 {
		d.valueError(attr, d.shown(attr)+" is out of range", fix)
		return 0, false
	}
	n, _ := bf.Int64()
	return int(n), true
}

// duration decodes attr as a Go duration string.
func (d *decoder) duration(attr *hcl.Attribute, example string) (time.Duration, bool) {
	s, ok := d.str(attr, example)
	if !ok {
		return 0, false
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.valueError(attr, d.shown(attr)+" is not a duration",
			fmt.Sprintf("use a Go duration string with a unit, for example %s = %s", attr.Name, example))
		return 0, false
	}
	return dur, true
}

// listItem is one element of a list attribute, with its own range.
type listItem struct {
	expr  hcl.Expression
	name  string // e.g. virtual_ips[1]
	value string
}

// stringList decodes a literal list of strings, keeping each element's range so
// that a bad element is reported where it is.
func (d *decoder) stringList(attr *hcl.Attribute, example string) ([]listItem, bool) {
	exprs, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		d.valueError(attr, d.shown(attr)+" is not a list",
			fmt.Sprintf("write a list in brackets, for example %s = %s", attr.Name, example))
		return nil, false
	}
	items := make([]listItem, 0, len(exprs))
	ok := true
	for i, e := range exprs {
		name := fmt.Sprintf("%s[%d]", attr.Name, i)
		s, good := d.strExpr(name, e, attr.Range.Ptr(), example)
		if !good {
			ok = false
			continue
		}
		items = append(items, listItem{expr: e, name: name, value: s})
	}
	return items, ok
}
