// Command hasidecar keeps a virtual IP alive in front of nginx: a VRRP
// daemon (v2 and v3, interoperable with keepalived) with health checks as
// plugins. See README.md and DESIGN.md for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/control"
	"github.com/hasidecar/hasidecar/host/daemon"
	"github.com/hasidecar/hasidecar/host/logging"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const defaultConfig = "/etc/hasidecar/hasidecar.hcl"

// Exit codes of the product contract.
const (
	exitOK      = 0
	exitFailed  = 1 // invalid input or a failed check
	exitUsage   = 2
	usageHeader = `hasidecar keeps a virtual IP alive in front of nginx (VRRP v2/v3).

Usage:
  hasidecar run      --config FILE          run the daemon in the foreground
  hasidecar validate --config FILE          check a configuration; exit 1 with diagnostics if invalid
  hasidecar status   --config FILE [--json] show the running daemon's instances and checks
  hasidecar reload   --config FILE          ask the running daemon to load FILE
  hasidecar genhash  --url URL [--host NAME] [--insecure]
                                            print the MD5 digest of a page, for httpget's digest
  hasidecar version                         print the version

The default configuration file is ` + defaultConfig + `.
`
)

func main() {
	// Started as hasidecar-plugin-NAME (a symlink in plugin_dir): serve that
	// built-in checker, before anything else touches standard output.
	if c, ok := builtinByName(os.Args[0]); ok {
		servePlugin(c)
		return
	}
	// One P: the daemon is all timers and sockets, and a second P costs a
	// futex wake-up of another thread for most goroutine hand-offs
	// (measured at 200 instances: master 14 % of a core with two, 9 % with
	// one; the futex calls fell from 1,500 to 75 a second). GOMAXPROCS in
	// the environment still decides, for the daemon and its plugins.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks an error in how the command was called (exit 2).
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageHeader)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stderr)
	case "validate":
		err = cmdValidate(args[1:], stdout, stderr)
	case "status":
		err = cmdStatus(args[1:], stdout, stderr)
	case "reload":
		err = cmdReload(args[1:], stdout, stderr)
	case "genhash":
		err = cmdGenhash(args[1:], stdout, stderr)
	case "plugin":
		err = cmdPlugin(args[1:], stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "hasidecar %s\n", version)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usageHeader)
	default:
		fmt.Fprintf(stderr, "hasidecar: unknown command %q\n\n%s", args[0], usageHeader)
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errReported):
		return exitFailed
	default:
		fmt.Fprintf(stderr, "hasidecar %s: %v\n", args[0], err)
		return exitFailed
	}
}

// errReported means the failure was already printed in full.
var errReported = errors.New("reported")

// newFlags returns a flag set that reports usage errors as errUsage.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hasidecar "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errUsage
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

// load reads and validates the configuration, printing diagnostics with
// file:line:col on failure.
func load(path string, stderr io.Writer) (*config.Config, error) {
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		config.WriteDiagnostics(stderr, diags)
		return nil, errReported
	}
	if len(diags) > 0 {
		config.WriteDiagnostics(stderr, diags) // warnings
	}
	return cfg, nil
}

func cmdValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", stderr)
	path := fs.String("config", defaultConfig, "configuration file")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := load(*path, stderr)
	if err != nil {
		return err
	}
	// The checks' config blocks are validated by their plugins, which run
	// here as they would under the daemon; their logs stay quiet.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if diags := daemon.ValidateChecks(ctx, cfg, zap.NewNop()); len(diags) > 0 {
		config.WriteDiagnostics(stderr, diags)
		if diags.HasErrors() {
			return errReported
		}
	}
	fmt.Fprintf(stdout, "%s: valid (%d instances, %d checks)\n", *path, len(cfg.Instances), len(cfg.Checks))
	return nil
}

func cmdRun(args []string, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	path := fs.String("config", defaultConfig, "configuration file")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := load(*path, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	defer log.Sync()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d := daemon.New(cfg, log)
	// SIGHUP reloads, as keepalived's; an invalid file changes nothing.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			log.Info("SIGHUP received: reloading", zap.String("config", *path))
			if err := d.Reload(ctx, *path); err != nil {
				log.Error("reload rejected; still running on the previous configuration", zap.Error(err))
			}
		}
	}()
	err = d.Run(ctx)
	var de *daemon.DiagnosticsError
	if errors.As(err, &de) {
		config.WriteDiagnostics(stderr, de.Diags)
		return errReported
	}
	return err
}

// controlSocket finds the daemon's socket from its configuration file.
func controlSocket(path string, stderr io.Writer) (string, error) {
	cfg, err := load(path, stderr)
	if err != nil {
		return "", err
	}
	return cfg.Control.Socket, nil
}

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", stderr)
	path := fs.String("config", defaultConfig, "configuration file (to find the control socket)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	sock, err := controlSocket(*path, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := control.Call(ctx, sock, control.Request{Command: "status"})
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
	path := fs.String("config", defaultConfig, "configuration file to load")
	if err := parse(fs, args); err != nil {
		return err
	}
	// Validate here first: the operator sees the diagnostics even when the
	// daemon is down, and a bad file never reaches it.
	sock, err := controlSocket(*path, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := control.Call(ctx, sock, control.Request{Command: "reload", Config: *path})
	if err != nil {
		return err
	}
	if !resp.OK {
		fmt.Fprintf(stderr, "reload rejected; the daemon keeps its previous configuration:\n%s\n", resp.Error)
		return errReported
	}
	fmt.Fprintf(stdout, "reloaded %s\n", *path)
	return nil
}
