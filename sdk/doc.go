// Package sdk is hasidecar's plugin SDK: the only package a health-check
// plugin imports.
//
// A plugin is an executable named hasidecar-plugin-NAME in the host's
// plugin_dir. The host starts it once and sends it every check that names
// NAME. A plugin implements Checker — a Schema for its `config {}` block and
// New, which turns one check's decoded configuration into a Probe — and calls
// Serve from main:
//
//	func main() { sdk.Serve(myChecker{}) }
//
// See the example in sdk/example for a complete plugin.
package sdk
