package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/json"
)

// IsJSON reports whether filename is read as HCL's JSON syntax (for
// configuration management tools that write JSON more easily than HCL).
func IsJSON(filename string) bool {
	return strings.EqualFold(filepath.Ext(filename), ".json")
}

// parseSyntax parses src as native HCL, or as HCL's JSON syntax when the
// name ends in .json; both give bodies with file:line:col ranges.
func parseSyntax(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	if IsJSON(filename) {
		return json.Parse(src, filename)
	}
	return hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
}

// stateDir decodes state_dir: an absolute directory.
func (d *decoder) stateDir(a *hcl.Attribute, cfg *Config) {
	if a == nil {
		return
	}
	s, ok := d.str(a, strconv.Quote(DefaultStateDir))
	if !ok {
		return
	}
	if !filepath.IsAbs(s) {
		d.valueError(a, d.shown(a)+" is not an absolute path",
			fmt.Sprintf("use a directory starting with /, for example state_dir = %q", DefaultStateDir))
		return
	}
	cfg.StateDir = filepath.Clean(s)
}

// groupName is what groupadd accepts, loosely: no spaces, colons or slashes.
var groupName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$`)

// controlGroup decodes control.group, the group that may read status.
func (d *decoder) controlGroup(a *hcl.Attribute) string {
	if a == nil {
		return ""
	}
	s, ok := d.str(a, `"hasidecar"`)
	if !ok {
		return ""
	}
	if !groupName.MatchString(s) {
		d.valueError(a, d.shown(a)+" is not a group name", `give the name of a Unix group, for example group = "hasidecar"`)
		return ""
	}
	return s
}

// ReadControl reads only the control block of the file at path, leniently:
// the rest of the file may be invalid (being edited, or a rejected deploy),
// since status, reload and maintenance only need the socket's path. A
// file too broken to parse is searched for `socket = "..."` in its control
// block; a file without one gives the default socket.
func ReadControl(path string) (Control, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Control{}, fmt.Errorf("cannot read configuration file %s: %v; pass an existing file with --config, or the socket with --socket", path, unwrapPathError(err))
	}
	c := Control{Socket: DefaultControlSocket}
	file, diags := parseSyntax(src, path)
	if file != nil && file.Body != nil && !diags.HasErrors() {
		content, _, _ := file.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "control"}}})
		if content != nil {
			for _, blk := range content.Blocks {
				attrs, _ := blk.Body.JustAttributes()
				for name, a := range attrs {
					v, vd := a.Expr.Value(nil)
					if vd.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type().FriendlyName() != "string" {
						continue
					}
					switch name {
					case "socket":
						c.Socket = v.AsString()
					case "group":
						c.Group = v.AsString()
					}
				}
			}
		}
		return c, nil
	}
	// Too broken to parse: find the control block's socket in the text.
	re := controlSocketHCL
	if IsJSON(path) {
		re = controlSocketJSON
	}
	if m := re.FindSubmatch(src); m != nil {
		c.Socket = string(m[1])
	}
	return c, nil
}

var (
	controlSocketHCL  = regexp.MustCompile(`(?m)^\s*control\s*\{[^}]*?\bsocket\s*=\s*"([^"\n]+)"`)
	controlSocketJSON = regexp.MustCompile(`"control"\s*:\s*\{[^}]*?"socket"\s*:\s*"([^"\n]+)"`)
)
