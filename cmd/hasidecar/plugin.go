package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hasidecar/hasidecar/internal/exepages"
	"github.com/hasidecar/hasidecar/plugins/httpget"
	"github.com/hasidecar/hasidecar/plugins/icmp"
	"github.com/hasidecar/hasidecar/plugins/script"
	"github.com/hasidecar/hasidecar/plugins/tcp"
	"github.com/hasidecar/hasidecar/sdk"
)

// builtins are the checkers this executable serves as plugins: each still
// runs in a process of its own (`hasidecar plugin NAME`, or this executable
// started under the name hasidecar-plugin-NAME), so that a crash stays a
// plugin crash, but all of them share the daemon's executable and so its
// pages in memory.
var builtins = map[string]func() sdk.Checker{
	"httpget": httpget.New,
	"icmp":    icmp.New,
	"script":  script.New,
	"tcp":     tcp.New,
}

// builtinNames returns the built-in plugins' names, sorted.
func builtinNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// pluginPrefix starts the executable name of every plugin.
const pluginPrefix = "hasidecar-plugin-"

// builtinByName returns the built-in plugin that argv0 names
// (hasidecar-plugin-NAME, as a symlink in plugin_dir), if any.
func builtinByName(argv0 string) (func() sdk.Checker, bool) {
	base := filepath.Base(argv0)
	if !strings.HasPrefix(base, pluginPrefix) {
		return nil, false
	}
	c, ok := builtins[strings.TrimPrefix(base, pluginPrefix)]
	return c, ok
}

// servePlugin runs a built-in checker as a plugin process.
func servePlugin(newChecker func() sdk.Checker) {
	// The host configures a plugin's checks within a second of starting
	// it; what the checks run later is mapped again as it runs.
	time.AfterFunc(pluginSettled, func() { exepages.Release() })
	sdk.Serve(newChecker())
}

// pluginSettled is when a plugin process gives back the executable pages
// that starting needed (package exepages).
const pluginSettled = 5 * time.Second

// cmdPlugin is `hasidecar plugin NAME`: the host starts built-in plugins so;
// a person has no reason to, since the plugin only talks go-plugin's
// handshake on its standard output.
func cmdPlugin(args []string, stderr io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintf(stderr, "Usage: hasidecar plugin NAME\n\nServes the built-in checker NAME (%s) as a plugin process.\nThe daemon starts these itself; there is no reason to run one by hand.\n", strings.Join(builtinNames(), ", "))
		return nil
	}
	if len(args) != 1 {
		fmt.Fprintf(stderr, "Usage: hasidecar plugin NAME (one of %s)\n", strings.Join(builtinNames(), ", "))
		return errUsage
	}
	c, ok := builtins[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hasidecar plugin: no built-in plugin %q (built in: %s)\n", args[0], strings.Join(builtinNames(), ", "))
		return errUsage
	}
	servePlugin(c)
	return nil
}
