package config

import (
	"reflect"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestToJSONDecodesTheSame: the JSON form of the design's example, and of a
// file with sync groups and several instances, decodes to the same
// configuration as the native one.
func TestToJSONDecodesTheSame(t *testing.T) {
	native := []byte(designExample + `
check "other" {
  plugin = "tcp"
  config { address = "127.0.0.1:80" }
}
vrrp_instance "VI_2" {
  interface         = "eth0"
  virtual_router_id = 52
  priority          = 100
  virtual_ips       = ["198.51.100.20/24"]
  track_check "other" { weight = -10 }
}
`)
	want, diags := ParseWith(native, "a.hcl", testHost)
	if diags.HasErrors() {
		t.Fatal(formatAll(diags))
	}
	js, diags := ToJSON(native, "a.hcl", "made by a test")
	if diags.HasErrors() {
		t.Fatal(formatAll(diags))
	}
	got, diags := ParseWith(js, "a.json", testHost)
	if diags.HasErrors() {
		t.Fatalf("%s\n%s", formatAll(diags), js)
	}
	if len(got.Instances) != 2 || len(got.Checks) != 2 {
		t.Fatalf("JSON decoded to %d instances and %d checks:\n%s", len(got.Instances), len(got.Checks), js)
	}
	for i := range want.Instances {
		w, g := want.Instances[i], got.Instances[i]
		zeroRanges(reflect.ValueOf(&w).Elem())
		zeroRanges(reflect.ValueOf(&g).Elem())
		if !reflect.DeepEqual(w, g) {
			t.Errorf("instance %d:\nnative %+v\njson   %+v", i, w, g)
		}
	}
}

// zeroRanges clears every hcl.Range in v: positions differ between the two
// syntaxes, values must not.
func zeroRanges(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(hcl.Range{}) {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).CanSet() {
				zeroRanges(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			zeroRanges(v.Index(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			zeroRanges(v.Elem())
		}
	}
}
