package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/hashicorp/hcl/v2"
	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/control"
	"github.com/hasidecar/hasidecar/host/daemon"
	"github.com/hasidecar/hasidecar/host/execsafe"
)

// socketFlags are the ways status, reload and maintenance find the daemon.
type socketFlags struct {
	config, socket *string
}

func addSocketFlags(fs *flag.FlagSet) socketFlags {
	return socketFlags{
		config: fs.String("config", defaultConfig, "configuration file: only its control block is read, to find the socket (the rest may be invalid)"),
		socket: fs.String("socket", "", "the daemon's control socket (instead of reading --config)"),
	}
}

// path returns the control socket's path: --socket, or the control block of
// --config read leniently, so that a file being edited or just rejected
// still leads to the daemon.
func (f socketFlags) path() (string, error) {
	if *f.socket != "" {
		return *f.socket, nil
	}
	c, err := config.ReadControl(*f.config)
	if err != nil {
		return "", err
	}
	return c.Socket, nil
}

// call sends req to the daemon and returns its answer, or an error that
// already says what the daemon refused.
func (f socketFlags) call(req control.Request, timeout time.Duration) (*control.Response, error) {
	sock, err := f.path()
	if err != nil {
		return nil, err
	}
	// A path that is there but no socket would only say "connection
	// refused".
	if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("%s is not a socket; give the daemon's control socket (control { socket } in its file)", sock)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return control.Call(ctx, sock, req)
}

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", stderr)
	sf := addSocketFlags(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON (the keys are part of the product contract)")
	if err := parse(fs, args); err != nil {
		return err
	}
	resp, err := sf.call(control.Request{Command: "status"}, 5*time.Second)
	if err != nil {
		return err
	}
	if !resp.OK || resp.Status == nil {
		return fmt.Errorf("daemon answered: %s", resp.Error)
	}
	if *asJSON {
		return writeJSON(stdout, resp.Status)
	}
	return writeTable(stdout, resp.Status)
}

func cmdReload(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reload", stderr)
	sf := addSocketFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	// The daemon reloads the file it was started with (its absolute path):
	// never a path sent from here, which would be relative to this shell.
	resp, err := sf.call(control.Request{Command: "reload"}, 30*time.Second)
	if err != nil {
		return err
	}
	if !resp.OK {
		fmt.Fprintf(stderr, "reload rejected; the daemon keeps its previous configuration:\n%s\n", resp.Error)
		printWarnings(stderr, resp.Warnings)
		return errReported
	}
	fmt.Fprintln(stdout, resp.Message)
	printWarnings(stderr, resp.Warnings)
	return nil
}

// printWarnings prints the daemon's warnings about a reload, one a line.
func printWarnings(w io.Writer, warnings []string) {
	for _, warn := range warnings {
		fmt.Fprintln(w, "warning: "+warn)
	}
}

func cmdMaintenance(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("maintenance", stderr)
	sf := addSocketFlags(fs)
	inst := fs.String("instance", "", "the vrrp_instance to put in or out of maintenance (default: every instance)")
	reason := fs.String("reason", "", "why, shown by status (default: \"maintenance\")")
	// on|off may come first or after the flags.
	var mode string
	if len(args) > 0 && (args[0] == "on" || args[0] == "off") {
		mode, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return errUsage
	}
	rest := fs.Args()
	if mode == "" && len(rest) > 0 {
		mode, rest = rest[0], rest[1:]
	}
	if (mode != "on" && mode != "off") || len(rest) > 0 {
		fmt.Fprintln(stderr, "hasidecar maintenance: say on or off, for example: hasidecar maintenance on --instance VI_1")
		return errUsage
	}
	resp, err := sf.call(control.Request{Command: "maintenance", On: mode == "on", Instance: *inst, Reason: *reason}, 30*time.Second)
	if err != nil {
		return err
	}
	if !resp.OK {
		fmt.Fprintf(stderr, "maintenance %s refused: %s\n", mode, resp.Error)
		return errReported
	}
	fmt.Fprintln(stdout, resp.Message)
	return nil
}

// configList is a repeatable --config.
type configList []string

func (c *configList) String() string { return fmt.Sprint(*c) }
func (c *configList) Set(s string) error {
	*c = append(*c, s)
	return nil
}

func cmdValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", stderr)
	var paths configList
	fs.Var(&paths, "config", "configuration file (.hcl, or .json for HCL's JSON syntax); repeat it with each node's file to check them as one cluster (default "+defaultConfig+")")
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(paths) == 0 {
		paths = configList{defaultConfig}
	}
	var cfgs []*config.Config
	failed := false
	for _, path := range paths {
		cfg, err := validateOne(path, stdout, stderr, len(paths) == 1)
		if err != nil {
			failed = true
			continue
		}
		cfgs = append(cfgs, cfg)
	}
	if failed {
		return errReported
	}
	if len(cfgs) > 1 {
		diags := config.CheckCluster(cfgs)
		config.WriteDiagnostics(stderr, diags)
		if diags.HasErrors() {
			return errReported
		}
		fmt.Fprintf(stdout, "the %d files agree as one cluster\n", len(cfgs))
	}
	return nil
}

// validateOne validates one file as the daemon would load it, with warnings
// about this machine when the file is meant for it (one file given).
func validateOne(path string, stdout, stderr io.Writer, thisMachine bool) (*config.Config, error) {
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		why := "is a directory"
		if err != nil {
			why = errors.Unwrap(err).Error()
		}
		fmt.Fprintf(stderr, "hasidecar validate: cannot read %s: %s\n", path, why)
		return nil, errReported
	}
	cfg, err := load(path, stderr)
	if err != nil {
		return nil, err
	}
	// The checks' config blocks are validated by their plugins, which run
	// here as they would under the daemon; their logs stay quiet.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if diags := daemon.ValidateChecks(ctx, cfg, zap.NewNop()); len(diags) > 0 {
		config.WriteDiagnostics(stderr, diags)
		if diags.HasErrors() {
			return nil, errReported
		}
	}
	config.WriteDiagnostics(stderr, hostWarnings(cfg, thisMachine))
	fmt.Fprintf(stdout, "%s: valid (%s, %s)\n", path, plural(len(cfg.Instances), "instance"), plural(len(cfg.Checks), "check"))
	return cfg, nil
}

// plural says "1 check" or "2 checks".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// hostWarnings are what is legal but likely a mistake: a file with no
// instance, and (for a file meant for this machine) an interface it lacks.
func hostWarnings(cfg *config.Config, thisMachine bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if len(cfg.Instances) == 0 && len(cfg.BGPAnnounces) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning,
			Summary: cfg.Path + ": no vrrp_instance",
			Detail:  "the daemon would run its checks but hold no virtual IP; add a vrrp_instance block"})
	}
	if !thisMachine {
		return diags
	}
	// A notify script that cannot run fails only at the first transition,
	// which is when the operator's pager needed it.
	for _, s := range cfg.Scripts() {
		if err := execsafe.Runnable(s.Path); err != nil {
			rng := s.Range
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Subject: &rng,
				Summary: fmt.Sprintf("%s of %s would not run: %v", s.Key, s.Owner, err),
				Detail:  "the daemon runs it on transitions; fine if the file is for another node"})
		}
	}
	seen := map[string]bool{}
	for _, in := range cfg.Instances {
		if seen[in.Interface] {
			continue
		}
		seen[in.Interface] = true
		if _, err := net.InterfaceByName(in.Interface); err != nil {
			rng := in.DeclRange
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Subject: &rng,
				Summary: fmt.Sprintf("interface %q does not exist on this machine", in.Interface),
				Detail:  "the daemon would refuse to start here; fine if the file is for another node, else see `ip link`"})
		}
	}
	return diags
}
