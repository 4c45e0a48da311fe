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
	"github.com/hasidecar/hasidecar/host/daemon"
	"github.com/hasidecar/hasidecar/host/logging"
	"github.com/hasidecar/hasidecar/internal/exepages"
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
  hasidecar validate --config A --config B  check several nodes' files as one cluster
  hasidecar status   [--config FILE | --socket PATH] [--json]
                                            show the running daemon's instances and checks
  hasidecar reload   [--config FILE | --socket PATH]
                                            ask the running daemon to reload the file it was started with
  hasidecar maintenance on|off [--instance NAME] [--reason TEXT] [--config FILE | --socket PATH]
                                            hand the VIPs over on purpose, and take them back
  hasidecar genhash  --url URL [--host NAME] [--insecure] [--any-status]
                                            print a page's HTTP status and MD5 digest, for httpget's digest
  hasidecar import   [--node-id ID] [-o FILE [--force]] keepalived.conf
                                            print the hasidecar configuration of a keepalived.conf
  hasidecar version                         print the version

The default configuration file is ` + defaultConfig + `; a name ending in
.json is read as HCL's JSON syntax. Each command's --help describes its flags.
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
	// wake-up of another thread for most goroutine hand-offs
	// (docs/performance.md). GOMAXPROCS in the environment still decides,
	// for the daemon and its plugins.
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
	// Help that was asked for goes to stdout, once; usage errors to stderr.
	if wantsHelp(args[1:]) {
		stderr = stdout
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
	case "maintenance":
		err = cmdMaintenance(args[1:], stdout, stderr)
	case "genhash":
		err = cmdGenhash(args[1:], stdout, stderr)
	case "import":
		err = cmdImport(args[1:], stdout, stderr)
	case "plugin":
		err = cmdPlugin(args[1:], stderr)
	case "version", "--version", "-v":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "hasidecar version: unexpected argument %q\n", args[1])
			return exitUsage
		}
		fmt.Fprintf(stdout, "hasidecar %s\n", version)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usageHeader)
	default:
		fmt.Fprintf(stderr, "hasidecar: unknown command %q\n\n%s", args[0], usageHeader)
		return exitUsage
	}
	switch {
	case err == nil, errors.Is(err, errHelp):
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

// wantsHelp reports whether the command's arguments ask for its help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--h", "--help":
			return true
		}
	}
	return false
}

// errReported means the failure was already printed in full.
var errReported = errors.New("reported")

// newFlags returns a flag set that reports usage errors as errUsage; its
// --help lists every flag with its description.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hasidecar "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		h := commandHelp[name]
		fmt.Fprintf(fs.Output(), "Usage: %s %s\n\n%s\n\nFlags:\n", fs.Name(), h.synopsis, h.what)
		fs.PrintDefaults()
	}
	return fs
}

// commandHelp is what each command's --help says above its flags.
var commandHelp = map[string]struct{ synopsis, what string }{
	"run": {"[--config FILE]",
		"Runs the daemon in the foreground (systemd starts it so). SIGHUP reloads the file,\nSIGTERM resigns every master with priority 0 and removes the VIPs."},
	"validate": {"[--config FILE]...",
		"Checks a configuration without touching the network; exits 1 with file:line:col\ndiagnostics if it is invalid. With several --config, checks the nodes' files as\none cluster: settings that must agree, equal priorities, unicast peers that\nmiss a node, and check weights that would not move the VIPs."},
	"status": {"[--config FILE | --socket PATH] [--json]",
		"Shows the running daemon's instances, checks and BGP sessions, read from its\ncontrol socket (works while the configuration file is broken)."},
	"reload": {"[--config FILE | --socket PATH]",
		"Asks the running daemon to reload the file it was started with; an invalid\nfile changes nothing and its diagnostics are printed here."},
	"maintenance": {"on|off [--instance NAME] [--reason TEXT] [--config FILE | --socket PATH]",
		"on: a master hands its VIPs to a backup at once and the instance stays out of\nthe election (status says why); off: it takes part again. Kept across restarts\n(under state_dir)."},
	"import": {"[--node-id ID] [-o FILE [--force]] keepalived.conf",
		"Prints the hasidecar configuration equivalent to a keepalived.conf, and on\nstderr one line per thing not carried over:\n  keepalived.conf:LINE: KEYWORD: why, and what to do instead\nLines marked [affects failover] change which node holds the VIPs, or when.\n\nExit status: 0 when all that affects failover was carried over, 1 when\nsomething that does was not (or the file cannot be read, or holds no\nvrrp_instance), 2 on usage errors."},
	"genhash": {"--url URL [--host NAME] [--insecure] [--any-status]",
		"Prints the page's HTTP status and the MD5 digest of its body, for httpget's\ndigest setting. A status other than 2xx exits 1 without a digest (pinning an\nerror page is a trap) unless --any-status."},
}

// errHelp is --help: the usage was printed and the exit status is 0.
var errHelp = errors.New("help")

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
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

// daemonSettled is when a started daemon gives back the executable pages
// that only starting needed.
const daemonSettled = 10 * time.Second

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
			log.Info("SIGHUP received: reloading", zap.String("config", cfg.Path))
			if err := d.Reload(ctx, ""); err != nil {
				log.Error("reload rejected; still running on the previous configuration", zap.Error(err))
			}
		}
	}()
	// Once the daemon has started, the executable pages only starting
	// needed are given back (package exepages).
	settled := time.AfterFunc(daemonSettled, func() {
		if n, err := exepages.Release(); err != nil {
			log.Debug("giving back start-up pages", zap.Error(err))
		} else {
			log.Debug("gave back start-up pages", zap.Int64("bytes", n))
		}
	})
	defer settled.Stop()
	err = d.Run(ctx)
	var de *daemon.DiagnosticsError
	if errors.As(err, &de) {
		config.WriteDiagnostics(stderr, de.Diags)
		return errReported
	}
	return err
}
