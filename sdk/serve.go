package sdk

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Serve runs the plugin: call it from main and nothing else. It returns only
// when the host is done with the plugin, which then exits.
//
// Never write to standard output: before Serve it is go-plugin's handshake
// channel and a stray line breaks the start ("Unrecognized remote plugin
// message"); after Serve, what reaches it arrives in the host's log only as
// plain info lines. Log to standard error with Log(ctx) or Logger().
func Serve(c Checker) {
	go exitWithParent(os.Getppid(), 250*time.Millisecond)
	log := Logger()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake(),
		VersionedPlugins: versionedPlugins(c, log),
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger:           log,
	})
}

// Logger returns a logger whose lines the host parses (hclog JSON on standard
// error) and shows with the plugin's name and the right level. In a Probe's
// Check, prefer Log(ctx), which also names the check. Never log to standard
// output (see Serve).
//
// It writes to file descriptor 2 itself rather than to os.Stderr: once Serve
// runs, go-plugin points os.Stderr at a pipe whose data the host discards.
func Logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Output:     stderrFD{},
		JSONFormat: true,
		Level:      hclog.Debug,
	})
}

// logKey is the context key of the logger Serve hands each Check.
type logKey struct{}

// Log returns the logger for the check that ctx belongs to: the ctx passed to
// Probe.Check carries one whose lines name the check ("check" = its name in
// the host's configuration). Any other ctx gets Logger().
//
//	func (p probe) Check(ctx context.Context) sdk.Result {
//		sdk.Log(ctx).Debug("dialing", "address", p.addr)
//		...
//	}
func Log(ctx context.Context) hclog.Logger {
	if l, ok := ctx.Value(logKey{}).(hclog.Logger); ok {
		return l
	}
	return Logger()
}

// withLog returns ctx carrying l for Log.
func withLog(ctx context.Context, l hclog.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, l)
}

// stderrFD writes to file descriptor 2, the standard error the host reads,
// whatever os.Stderr has been replaced with.
type stderrFD struct{}

func (stderrFD) Write(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := syscall.Write(2, b[n:])
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			time.Sleep(time.Millisecond) // a non-blocking pipe that is full: the host is slow to read
			continue
		case err != nil:
			return n, err
		case m == 0:
			return n, io.ErrShortWrite
		}
		n += m
	}
	return n, nil
}

// exitWithParent ends the plugin when the host that started it dies, also
// when the host was SIGKILLed and could not stop it: the plugin is then
// re-parented and its parent pid changes. The host also sets a parent-death
// signal, but that one follows the host thread that forked, so this watch is
// the plugin's own guarantee.
func exitWithParent(ppid int, every time.Duration) {
	for range time.Tick(every) {
		if os.Getppid() != ppid {
			removeSocketDir()
			os.Exit(0)
		}
	}
}

// removeSocketDir removes the directory the host made for this plugin's
// go-plugin socket: a host that died cannot remove it any more.
func removeSocketDir() {
	dir := os.Getenv(plugin.EnvUnixSocketDir)
	if strings.HasPrefix(filepath.Base(dir), "hasidecar-plugin-") {
		_ = os.RemoveAll(dir)
	}
}
