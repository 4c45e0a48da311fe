package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// ToJSON rewrites a configuration in HCL's native syntax as HCL's JSON
// syntax (what config management writes most easily), keeping attributes
// and blocks in their order. Comments are dropped, save one leading "//"
// line. Only literal values are allowed, as everywhere in the file.
func ToJSON(src []byte, filename, comment string) ([]byte, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	obj, diags := bodyJSON(f.Body.(*hclsyntax.Body))
	if diags.HasErrors() {
		return nil, diags
	}
	if comment != "" {
		obj = append(orderedObject{{"//", mustJSON(comment)}}, obj...)
	}
	var b bytes.Buffer
	obj.write(&b, "")
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// orderedObject is a JSON object that keeps its members' order.
type orderedObject []member

type member struct {
	key   string
	value any // json.RawMessage or orderedObject
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func (o orderedObject) get(key string) (orderedObject, bool) {
	for _, m := range o {
		if m.key == key {
			sub, ok := m.value.(orderedObject)
			return sub, ok
		}
	}
	return nil, false
}

func (o orderedObject) set(key string, v orderedObject) orderedObject {
	for i, m := range o {
		if m.key == key {
			o[i].value = v
			return o
		}
	}
	return append(o, member{key, v})
}

func (o orderedObject) write(b *bytes.Buffer, indent string) {
	if len(o) == 0 {
		b.WriteString("{}")
		return
	}
	b.WriteString("{\n")
	for i, m := range o {
		b.WriteString(indent + "  ")
		b.Write(mustJSON(m.key))
		b.WriteString(": ")
		switch v := m.value.(type) {
		case orderedObject:
			v.write(b, indent+"  ")
		case json.RawMessage:
			b.Write(v)
		}
		if i < len(o)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(indent + "}")
}

func bodyJSON(body *hclsyntax.Body) (orderedObject, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	type item struct {
		pos  hcl.Pos
		attr *hclsyntax.Attribute
		blk  *hclsyntax.Block
	}
	var items []item
	for _, a := range body.Attributes {
		items = append(items, item{pos: a.SrcRange.Start, attr: a})
	}
	for _, blk := range body.Blocks {
		items = append(items, item{pos: blk.TypeRange.Start, blk: blk})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].pos.Byte < items[j].pos.Byte })
	var out orderedObject
	for _, it := range items {
		if a := it.attr; a != nil {
			v, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			raw, err := ctyjson.Marshal(v, v.Type())
			if err != nil || v.Type() == cty.DynamicPseudoType {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s cannot be written as JSON", a.Name),
					Detail: fmt.Sprint(err), Subject: a.SrcRange.Ptr()})
				continue
			}
			out = append(out, member{a.Name, json.RawMessage(raw)})
			continue
		}
		blk := it.blk
		inner, d := bodyJSON(blk.Body)
		diags = append(diags, d...)
		// A block is nested one object per label: "check": {"nginx": {...}}.
		path := append([]string{blk.Type}, blk.Labels...)
		out = nest(out, path, inner)
	}
	return out, diags
}

// nest puts v at path inside o, merging with objects already there.
func nest(o orderedObject, path []string, v orderedObject) orderedObject {
	if len(path) == 1 {
		if old, ok := o.get(path[0]); ok {
			return o.set(path[0], append(old, v...))
		}
		return o.set(path[0], v)
	}
	sub, _ := o.get(path[0])
	return o.set(path[0], nest(sub, path[1:], v))
}
