package sdk

import (
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Serve runs the plugin: call it from main and nothing else. It returns only
// when the host is done with the plugin, which then exits.
//
// Do not write to standard output, before or after Serve: it is go-plugin's
// handshake channel, and a stray line breaks it. Log with Logger, which
// writes JSON lines to standard error that the host shows in its own log
// with the plugin's name.
func Serve(c Checker) {
	go exitWithParent(os.Getppid())
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake(),
		VersionedPlugins: PluginSets(c),
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger:           Logger(),
	})
}

// Logger returns a logger whose lines the host parses (hclog JSON on standard
// error) and shows with the plugin's name and the right level.
func Logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Output:     os.Stderr,
		JSONFormat: true,
		Level:      hclog.Debug,
	})
}

// exitWithParent ends the plugin when the host that started it dies, also
// when the host was SIGKILLed and could not stop it: the plugin is then
// re-parented and its parent pid changes.
func exitWithParent(ppid int) {
	for range time.Tick(250 * time.Millisecond) {
		if os.Getppid() != ppid {
			os.Exit(0)
		}
	}
}
