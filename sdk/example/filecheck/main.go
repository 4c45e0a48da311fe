// Command hasidecar-plugin-filecheck is an example third-party health-check
// plugin built on the hasidecar SDK alone: a check passes while a file exists
// and, optionally, contains a string.
//
//	check "maintenance" {
//	  plugin = "filecheck"
//	  config {
//	    path     = "/var/www/healthy"
//	    contains = "ok"
//	  }
//	}
package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hasidecar/hasidecar/sdk"
)

func main() { sdk.Serve(checker{}) }

type checker struct{}

func (checker) Schema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "path", Type: sdk.String, Required: true, Description: "file that must exist"},
		{Name: "contains", Type: sdk.String, Description: "text the file must contain"},
	}}
}

type config struct {
	Path     string `json:"path"`
	Contains string `json:"contains"`
}

func (checker) New(c sdk.Config) (sdk.Probe, sdk.Diagnostics) {
	var cfg config
	if err := c.Decode(&cfg); err != nil {
		return nil, sdk.Errorf("", "decoding the configuration: %v", err)
	}
	if !filepath.IsAbs(cfg.Path) {
		return nil, sdk.Errorf("path", "path %q must be absolute", cfg.Path)
	}
	return probe(cfg), nil
}

type probe config

func (p probe) Check(ctx context.Context) sdk.Result {
	b, err := os.ReadFile(p.Path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			// A missing file is the check doing its job; anything else
			// (a directory, no permission) is worth a line in the log.
			sdk.Log(ctx).Warn("cannot read the file", "path", p.Path, "error", err.Error())
		}
		return sdk.Unhealthy("%v", err)
	}
	if p.Contains != "" && !bytes.Contains(b, []byte(p.Contains)) {
		return sdk.Unhealthy("%s does not contain %q", p.Path, p.Contains)
	}
	return sdk.Healthy("%s present", p.Path)
}
