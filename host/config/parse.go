package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Load reads the file at path and returns its configuration, or nil and the
// diagnostics that explain why it is not valid. Host defaults come from
// SystemDefaults.
func Load(path string) (*Config, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("cannot read configuration file %s", path),
			Detail:   fmt.Sprintf("%v; pass an existing file with --config", unwrapPathError(err)),
		}}
	}
	cfg, diags := ParseWith(src, path, SystemDefaults())
	if cfg != nil {
		if abs, err := filepath.Abs(path); err == nil {
			cfg.Path = abs
		}
	}
	return cfg, diags
}

// Parse decodes src, naming it filename in diagnostics, with SystemDefaults.
func Parse(src []byte, filename string) (*Config, hcl.Diagnostics) {
	return ParseWith(src, filename, SystemDefaults())
}

// SystemDefaults reads the host name and the running executable's directory.
// A fact that cannot be read is left empty; a file that then leaves the
// matching key out gets a diagnostic asking to set it.
func SystemDefaults() HostDefaults {
	var hd HostDefaults
	if name, err := os.Hostname(); err == nil {
		hd.NodeName = name
	}
	if exe, err := os.Executable(); err == nil {
		hd.PluginDir = filepath.Dir(exe)
	}
	return hd
}

// ParseWith is Parse with the host defaults given: the pure core of loading.
// It returns a nil *Config whenever the diagnostics hold an error.
func ParseWith(src []byte, filename string, host HostDefaults) (*Config, hcl.Diagnostics) {
	file, diags := parseSyntax(src, filename)
	if diags.HasErrors() || file == nil {
		return nil, diags
	}
	d := &decoder{src: src, diags: diags}
	cfg := d.root(file.Body, host)
	sortByPosition(d.diags)
	if d.diags.HasErrors() {
		return nil, d.diags
	}
	return cfg, d.diags
}

// sortByPosition orders diagnostics as they appear in the file, so that the
// operator reads them top to bottom; those without a position come first.
func sortByPosition(diags hcl.Diagnostics) {
	pos := func(d *hcl.Diagnostic) (string, int) {
		if d == nil || d.Subject == nil {
			return "", -1
		}
		return d.Subject.Filename, d.Subject.Start.Byte
	}
	sort.SliceStable(diags, func(i, j int) bool {
		fi, bi := pos(diags[i])
		fj, bj := pos(diags[j])
		if fi != fj {
			return fi < fj
		}
		return bi < bj
	})
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func rootSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "node_name"}, {Name: "plugin_dir"}, {Name: "log_level"}, {Name: "log_format"},
			{Name: "state_dir"},
		},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "control"},
			{Type: "metrics"},
			{Type: "check", LabelNames: []string{"name"}},
			{Type: "plugin", LabelNames: []string{"name"}},
			{Type: "vrrp_instance", LabelNames: []string{"name"}},
			{Type: "sync_group", LabelNames: []string{"name"}},
			{Type: "bgp"},
			{Type: "bgp_announce", LabelNames: []string{"name"}},
		},
	}
}

// root decodes the whole file, then checks what spans blocks.
func (d *decoder) root(body hcl.Body, host HostDefaults) *Config {
	content, diags := body.Content(rootSchema())
	d.diags = append(d.diags, diags...)

	cfg := &Config{
		NodeName:  host.NodeName,
		PluginDir: host.PluginDir,
		LogLevel:  DefaultLogLevel,
		LogFormat: DefaultLogFormat,
		Control:   Control{Socket: DefaultControlSocket},
		StateDir:  DefaultStateDir,
	}
	d.stateDir(content.Attributes["state_dir"], cfg)

	if a, ok := content.Attributes["node_name"]; ok {
		if s, ok := d.str(a, `"linux-01"`); ok {
			if s == "" {
				d.valueError(a, "node_name is empty", `remove the line to use the host name, or set a name such as "linux-01"`)
			}
			cfg.NodeName = s
		}
	} else if cfg.NodeName == "" {
		d.errorAt(body.MissingItemRange(), nil, "node_name is not set and the host name is unknown",
			`set node_name, for example node_name = "linux-01"`)
	}
	if a, ok := content.Attributes["plugin_dir"]; ok {
		if s, ok := d.str(a, `"/usr/lib/hasidecar/plugins"`); ok {
			if s == "" {
				d.valueError(a, "plugin_dir is empty", "remove the line to use the directory of the hasidecar binary, or give a directory")
			}
			cfg.PluginDir = s
		}
	} else if cfg.PluginDir == "" {
		d.errorAt(body.MissingItemRange(), nil, "plugin_dir is not set and the hasidecar binary's directory is unknown",
			`set plugin_dir, for example plugin_dir = "/usr/lib/hasidecar/plugins"`)
	}
	if a, ok := content.Attributes["log_level"]; ok {
		cfg.LogLevel = d.oneOf(a, []string{"debug", "info", "warn", "error"}, DefaultLogLevel)
	}
	if a, ok := content.Attributes["log_format"]; ok {
		cfg.LogFormat = d.oneOf(a, []string{"json", "console"}, DefaultLogFormat)
	}

	var controlSeen, metricsSeen, bgpSeen *hcl.Block
	announceSeen := map[string]*hcl.Block{}
	checkSeen := map[string]*hcl.Block{}
	instanceSeen := map[string]*hcl.Block{}
	pluginSeen := map[string]*hcl.Block{}
	vridSeen := map[vridKey]Instance{}
	groupSeen := map[string]*hcl.Block{}
	var groupBlocks []*hcl.Block
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "control":
			if d.once(blk, &controlSeen) {
				cfg.Control = d.control(blk)
			}
		case "metrics":
			if d.once(blk, &metricsSeen) {
				cfg.Metrics = d.metrics(blk)
			}
		case "check":
			if !d.uniqueName(blk, checkSeen) {
				continue
			}
			cfg.Checks = append(cfg.Checks, d.check(blk))
		case "plugin":
			if !d.uniqueName(blk, pluginSeen) {
				continue
			}
			if sum, ok := d.pluginPin(blk); ok {
				if cfg.PluginPins == nil {
					cfg.PluginPins = map[string]string{}
				}
				cfg.PluginPins[blk.Labels[0]] = sum
			}
		case "vrrp_instance":
			if !d.uniqueName(blk, instanceSeen) {
				continue
			}
			in, vridRange := d.instance(blk)
			d.uniqueVRID(in, vridRange, vridSeen)
			cfg.Instances = append(cfg.Instances, in)
		case "sync_group":
			if d.uniqueName(blk, groupSeen) {
				groupBlocks = append(groupBlocks, blk)
			}
		case "bgp":
			if d.once(blk, &bgpSeen) {
				cfg.BGP = d.bgp(blk)
			}
		case "bgp_announce":
			if d.uniqueName(blk, announceSeen) {
				cfg.BGPAnnounces = append(cfg.BGPAnnounces, d.bgpAnnounce(blk))
			}
		}
	}
	d.uniqueVMACNames(cfg.Instances)

	cfg.SyncGroups = d.syncGroups(groupBlocks, cfg.Instances)
	d.resolveTrackChecks(cfg.Instances, checkSeen)
	d.resolveBGP(cfg, checkSeen)
	return cfg
}

// oneOf decodes a string that must be one of allowed; on error it returns def.
func (d *decoder) oneOf(a *hcl.Attribute, allowed []string, def string) string {
	s, ok := d.str(a, strconv.Quote(def))
	if !ok {
		return def
	}
	for _, v := range allowed {
		if s == v {
			return s
		}
	}
	d.valueError(a, d.shown(a)+" is not a valid "+a.Name, "use one of "+quoteList(allowed))
	return def
}

func quoteList(items []string) string {
	out := ""
	for i, s := range items {
		switch {
		case i == 0:
		case i == len(items)-1:
			out += " or "
		default:
			out += ", "
		}
		out += strconv.Quote(s)
	}
	return out
}

// once accepts the first block of its type and reports any later one.
func (d *decoder) once(blk *hcl.Block, seen **hcl.Block) bool {
	if *seen != nil {
		d.errorAt(blk.DefRange, nil, fmt.Sprintf("duplicate %s block", blk.Type),
			fmt.Sprintf("the first is at line %d; keep one %s block", (*seen).DefRange.Start.Line, blk.Type))
		return false
	}
	*seen = blk
	return true
}

// uniqueName accepts a labelled block whose name is non-empty and not yet used.
func (d *decoder) uniqueName(blk *hcl.Block, seen map[string]*hcl.Block) bool {
	if len(blk.Labels) == 0 {
		return false // hcl has already reported the missing label
	}
	name := blk.Labels[0]
	labelRange := blk.DefRange
	if len(blk.LabelRanges) > 0 {
		labelRange = blk.LabelRanges[0]
	}
	if name == "" {
		d.errorAt(labelRange, blk.DefRange.Ptr(), fmt.Sprintf("%s name is empty", blk.Type),
			fmt.Sprintf(`give the block a name, for example %s "nginx" { ... }`, blk.Type))
		return false
	}
	if first, dup := seen[name]; dup {
		d.errorAt(blk.DefRange, nil, fmt.Sprintf("duplicate %s %q", blk.Type, name),
			fmt.Sprintf("the first is at line %d; give each %s a different name", first.DefRange.Start.Line, blk.Type))
		return false
	}
	seen[name] = blk
	return true
}

func (d *decoder) control(blk *hcl.Block) Control {
	content, diags := blk.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "socket"}, {Name: "group"}}})
	d.diags = append(d.diags, diags...)
	c := Control{Socket: DefaultControlSocket}
	c.Group = d.controlGroup(content.Attributes["group"])
	a, ok := content.Attributes["socket"]
	if !ok {
		return c
	}
	s, ok := d.str(a, strconv.Quote(DefaultControlSocket))
	if !ok {
		return c
	}
	// sun_path holds 108 bytes including the terminating NUL.
	const maxSocketPath = 107
	switch {
	case !filepath.IsAbs(s):
		d.valueError(a, d.shown(a)+" is not an absolute path",
			fmt.Sprintf("use a path starting with /, for example socket = %q", DefaultControlSocket))
	case len(s) > maxSocketPath:
		d.valueError(a, fmt.Sprintf("control socket path is %d bytes long", len(s)),
			fmt.Sprintf("a Unix socket path holds at most %d bytes; use a shorter path", maxSocketPath))
	}
	c.Socket = s
	return c
}

func (d *decoder) metrics(blk *hcl.Block) *Metrics {
	content, diags := blk.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "listen"}}})
	d.diags = append(d.diags, diags...)
	a, ok := content.Attributes["listen"]
	if !ok {
		d.errorAt(blk.DefRange, nil, "metrics block has no listen",
			`add listen = "127.0.0.1:9465", or remove the block to disable metrics`)
		return nil
	}
	s, ok := d.str(a, `"127.0.0.1:9465"`)
	if !ok {
		return nil
	}
	const fix = `use host:port, for example listen = "127.0.0.1:9465" (":9465" listens on every address)`
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		d.valueError(a, d.shown(a)+" is not host:port", fix)
		return nil
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		d.valueError(a, d.shown(a)+" has no valid port", "the port must be a number from 1 to 65535; "+fix)
		return nil
	}
	return &Metrics{Listen: s}
}

// pluginPin decodes `plugin "NAME" { sha256 = "…" }`: the digest the plugin's
// binary must have.
func (d *decoder) pluginPin(blk *hcl.Block) (string, bool) {
	name := blk.Labels[0]
	if reason := badPluginName(name); reason != "" {
		d.errorAt(blk.LabelRanges[0], &blk.DefRange, fmt.Sprintf("plugin %q is not a plugin name", name), reason)
		return "", false
	}
	content, diags := blk.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "sha256", Required: true}}})
	d.diags = append(d.diags, diags...)
	a, ok := content.Attributes["sha256"]
	if !ok {
		return "", false
	}
	s, ok := d.str(a, `"<64 hex digits, from sha256sum>"`)
	if !ok {
		return "", false
	}
	s = strings.ToLower(s)
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		d.valueError(a, d.shown(a)+" is not a sha256 digest", "give the 64 hex digits that sha256sum prints for hasidecar-plugin-"+name)
		return "", false
	}
	return s, true
}
