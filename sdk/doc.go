// Package sdk is hasidecar's plugin SDK: the only package a health-check
// plugin imports.
//
// # What a plugin is
//
// A plugin is an executable named hasidecar-plugin-NAME in the host's
// plugin_dir (by default the directory of the hasidecar binary). A check in
// the configuration names it:
//
//	check "web" {
//	  plugin   = "NAME"
//	  interval = "200ms"
//	  timeout  = "150ms"
//	  config { ... }   // the keys your Schema declares
//	}
//
// The host starts the plugin once, however many checks use it, and talks to
// it over gRPC (hashicorp/go-plugin, protocol version 1, mutual TLS). If it
// exits or stops answering, the host restarts it with backoff and hands it
// its checks again; while it is down its checks count as failing.
//
// # Writing one
//
// Implement Checker and call Serve from main, nothing else:
//
//	func main() { sdk.Serve(checker{}) }
//
//	type checker struct{}
//
//	func (checker) Schema() sdk.Schema {
//		return sdk.Schema{Attributes: []sdk.Attribute{
//			{Name: "path", Type: sdk.String, Required: true},
//		}}
//	}
//
//	func (checker) New(c sdk.Config) (sdk.Probe, sdk.Diagnostics) {
//		var cfg struct{ Path string `json:"path"` }
//		if err := c.Decode(&cfg); err != nil {
//			return nil, sdk.Errorf("", "%v", err)
//		}
//		if !filepath.IsAbs(cfg.Path) {
//			return nil, sdk.Errorf("path", "path %q must be absolute", cfg.Path)
//		}
//		return probe(cfg.Path), nil
//	}
//
//	type probe string
//
//	func (p probe) Check(ctx context.Context) sdk.Result {
//		if _, err := os.Stat(string(p)); err != nil {
//			return sdk.Unhealthy("%v", err)
//		}
//		return sdk.Healthy("present")
//	}
//
// Schema declares the keys of the check's config block. The host decodes the
// user's HCL against it and reports unknown keys, missing required keys and
// wrong types at their file:line:col, both in `hasidecar validate` and at
// start, before your plugin sees anything. New then gets the decoded values
// (Config.Decode into a struct with json tags) and checks what a schema
// cannot say; a Diagnostic naming an Attribute is shown at that key's line.
// New must not block on the network: validate calls it too.
//
// Check runs once per interval with a context that ends at the check's
// timeout; return promptly when it does. The SDK measures the latency. A
// panic in Check becomes a failing result ("plugin panicked: ...") and the
// plugin keeps serving its other checks. A Probe that holds resources may
// implement Closer.
//
// # Logging
//
// Inside Check, log with Log(ctx); elsewhere (New, a background goroutine)
// with Logger(). Both write hclog JSON lines to standard error, which the
// host parses: each line appears in hasidecar's log at its level, with
// plugin=NAME and, from Log(ctx), check=the check's name.
//
//	sdk.Log(ctx).Warn("cannot read the file", "path", p.path, "error", err.Error())
//
// Debug lines are shown when hasidecar runs with log_level = "debug".
// Anything else a plugin writes to standard error still reaches the host's
// log, as plain info lines.
//
// # Rules of the road
//
//   - Never write to standard output: before Serve it is go-plugin's
//     handshake channel and a stray line breaks the start ("Unrecognized
//     remote plugin message"); after Serve, what reaches it arrives in the
//     host's log only as plain info lines. Log to standard error with
//     Log(ctx) or Logger(). Do nothing in init functions or main but call
//     Serve.
//   - Return from Check by the context's deadline. The context ends a
//     little (a tenth of the timeout, at most 20 ms) before the host gives
//     up, so the message you return then ("no answer after 80ms") is the
//     one the operator sees. A Check that does not return
//     is abandoned by the host and counted as failing; if the plugin stops
//     answering altogether (several deadlines in a row), the host restarts
//     it and hands it its checks again.
//   - Probes run concurrently (one plugin serves every check that names it):
//     share nothing mutable between them without a lock.
//   - Keep no state between restarts: after one, New is called again for
//     every check.
//   - The plugin exits by itself when its host dies, even if the host was
//     killed with SIGKILL.
//   - Messages are short and say what was seen: "200 OK", "connection
//     refused", "exit 1: nginx not running".
//
// # Naming, building, installing, pinning
//
// The binary is named hasidecar-plugin-NAME, where NAME is what a check's
// plugin key says: letters, digits, '-' and '_'. It goes in the
// host's plugin_dir, executable:
//
//	go build -o /usr/lib/hasidecar/plugins/hasidecar-plugin-NAME .
//
// An operator can pin the binary so that only this build runs; hasidecar
// then hashes it before every start and refuses one that differs:
//
//	plugin "NAME" { sha256 = "…" }   // the output of sha256sum
//
// The protocol between host and plugin is versioned (ProtocolVersion);
// a plugin built with this SDK keeps working with later hosts.
//
// # Testing
//
// Test your Checker directly — Schema(), New(sdk.NewConfig([]byte(`{...}`))),
// probe.Check(ctx) — as the built-in plugins in plugins/ do: no process and
// no gRPC are needed, and Log(ctx) works with any context. Then run it for
// real: `hasidecar validate --config FILE` starts the plugin and asks it
// about every check's config block; `hasidecar run` runs it.
// sdk/example/filecheck is a complete plugin in one file, and the SDK's own
// tests show how to start a plugin binary from a Go test as the host does
// (plugin.NewClient with Handshake and PluginSets, then Dispense).
package sdk
