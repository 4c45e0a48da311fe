package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/kaconf"
	"github.com/hasidecar/hasidecar/host/kaimport"
)

// cmdImport is `hasidecar import`: keepalived.conf in, HCL out.
func cmdImport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", stderr)
	nodeID := fs.String("node-id", "", "keepalived's config id (its -i): which @ID lines apply; default: the host name up to its first dot")
	out := fs.String("o", "", "write the configuration to FILE (mode 0600: it may hold auth_pass) instead of stdout; a name ending in .json gets HCL's JSON syntax")
	force := fs.Bool("force", false, "with -o, replace a file that is already there")
	// Flags may come before or after the file name.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return errHelp
			}
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "hasidecar import: give one keepalived.conf (got %d)\n\n", len(files))
		fs.Usage()
		return errUsage
	}
	if *out != "" && !*force {
		if _, err := os.Lstat(*out); err == nil {
			return fmt.Errorf("%s already exists; pass --force to replace it", *out)
		}
	}
	id := *nodeID
	if id == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("cannot read the host name for @ID lines (%v); give --node-id", err)
		}
		id = kaconf.DefaultNodeID(host)
	}
	if _, err := os.Stat(files[0]); err != nil {
		return fmt.Errorf("cannot read %s: %w", files[0], errors.Unwrap(err))
	}
	res := kaimport.Convert(files[0], kaimport.Options{NodeID: id, Files: kaconf.OSFiles{}, LookPath: exec.LookPath})
	for _, n := range res.Notes {
		line := n.String()
		if n.Failover {
			line += " [affects failover]"
		}
		fmt.Fprintln(stderr, line)
	}
	// What is emitted must load; a failure here is the importer's bug, and
	// it is better said than written to a file the daemon then refuses.
	cfg, diags := config.ParseWith(res.HCL, "imported.hcl", config.HostDefaults{NodeName: id, PluginDir: "/"})
	if diags.HasErrors() {
		fmt.Fprintln(stderr, "hasidecar import: the imported configuration does not validate (please report this):")
		config.WriteDiagnostics(stderr, diags)
		return errReported
	}
	// A file of LVS alone would become a configuration that holds nothing.
	if len(cfg.Instances) == 0 {
		fmt.Fprintf(stderr, "hasidecar import: no vrrp_instance to import in %s; nothing written\n", files[0])
		return errReported
	}
	text := res.HCL
	if strings.HasSuffix(*out, ".json") {
		// Config management writes JSON most easily: the same file in HCL's
		// JSON syntax, which the daemon reads by its name.
		js, diags := config.ToJSON(res.HCL, "imported.hcl", "Imported from "+files[0]+" by `hasidecar import`; the report of what was not carried over went to stderr.")
		if !diags.HasErrors() {
			_, diags = config.ParseWith(js, "imported.json", config.HostDefaults{NodeName: id, PluginDir: "/"})
		}
		if diags.HasErrors() {
			fmt.Fprintln(stderr, "hasidecar import: the imported configuration does not convert to JSON (please report this):")
			config.WriteDiagnostics(stderr, diags)
			return errReported
		}
		text = js
	}
	if *out != "" {
		if err := os.WriteFile(*out, text, 0o600); err != nil {
			return err
		}
		// WriteFile keeps the mode of a file that was there: auth_pass must
		// not stay readable by others.
		if err := os.Chmod(*out, 0o600); err != nil {
			return err
		}
	} else if _, err := stdout.Write(text); err != nil {
		return err
	}
	if res.FailoverLost() {
		fmt.Fprintln(stderr, "hasidecar import: some of what affects failover was not carried over (marked above); review it before running this node beside keepalived")
		return errReported
	}
	return nil
}
