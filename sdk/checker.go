package sdk

import (
	"context"
	"encoding/json"
	"fmt"
)

// Checker is what a plugin implements: it declares the schema of its
// `config {}` block and builds a Probe for each check that uses it.
//
// One plugin process serves every check that names it, so New is called once
// per check (again after a reload or a plugin restart) and the Probes it
// returns run concurrently.
type Checker interface {
	// Schema describes the keys a check's `config {}` block may hold. The
	// host validates the user's HCL against it, with file:line diagnostics,
	// before the plugin sees anything.
	Schema() Schema
	// New validates one check's decoded configuration beyond what the schema
	// says (a URL's scheme, a file's permissions) and returns a Probe for it.
	// Diagnostics of severity Error reject the configuration; name the
	// Attribute so the host can point at the right line. New must not block
	// on the network: it is also called by `hasidecar validate`.
	New(cfg Config) (Probe, Diagnostics)
}

// Probe runs one configured check.
type Probe interface {
	// Check runs the check once. ctx ends at the check's timeout; a Probe
	// must return promptly when it does. The SDK measures the latency.
	Check(ctx context.Context) Result
}

// Closer is implemented by Probes that hold resources (a socket, a file);
// Close is called when the check is removed or the plugin stops.
type Closer interface {
	Close() error
}

// Result is the outcome of one check.
type Result struct {
	Healthy bool
	// Message is short and says what was seen: "200 OK", "connection
	// refused", "exit status 1".
	Message string
}

// Healthy returns a passing Result with a message.
func Healthy(format string, args ...any) Result {
	return Result{Healthy: true, Message: fmt.Sprintf(format, args...)}
}

// Unhealthy returns a failing Result with a message.
func Unhealthy(format string, args ...any) Result {
	return Result{Healthy: false, Message: fmt.Sprintf(format, args...)}
}

// Type is the type of a configuration attribute.
type Type string

// The attribute types a schema can declare. The host rejects a value of
// another type at its line (a quoted "100" is not a Number). Config.Decode
// fills these Go types:
const (
	String      Type = "string"       // string
	Number      Type = "number"       // int, int64, uint16, float64, … (a fraction into an int is a Decode error)
	Bool        Type = "bool"         // bool
	ListString  Type = "list(string)" // []string
	ListNumber  Type = "list(number)" // []int, []float64, …
	MapOfString Type = "map(string)"  // map[string]string
)

// Attribute is one key of a `config {}` block.
type Attribute struct {
	Name        string
	Type        Type
	Required    bool
	Description string
}

// Schema is the set of keys a plugin accepts. Keys not in it are rejected by
// the host.
type Schema struct {
	Attributes []Attribute
}

// Config is one check's configuration, decoded by the host against the
// plugin's Schema: an object with one member per attribute the user set.
type Config struct {
	raw json.RawMessage
}

// NewConfig wraps the JSON object the host sends; plugins rarely need it
// except in tests.
func NewConfig(raw []byte) Config { return Config{raw: raw} }

// Decode fills v (a pointer to a struct with json tags named as the schema's
// attributes) from the configuration. Attributes the user did not set are
// absent, so fields keep the values v had: set defaults before decoding.
func (c Config) Decode(v any) error {
	if len(c.raw) == 0 {
		return nil
	}
	return json.Unmarshal(c.raw, v)
}

// Raw returns the configuration as JSON.
func (c Config) Raw() []byte { return c.raw }

// Severity of a Diagnostic.
type Severity int

// Severities.
const (
	Error Severity = iota
	Warning
)

// Diagnostic is a problem with a configuration, in the shape Terraform's
// plugin protocol uses: severity, summary, detail and the attribute it is
// about.
type Diagnostic struct {
	Severity  Severity
	Summary   string
	Detail    string
	Attribute string // the schema attribute concerned; empty: the whole block
}

// Diagnostics is a list of Diagnostic.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an Error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Errorf returns a one-element Diagnostics with an Error about attribute.
func Errorf(attribute, summary string, args ...any) Diagnostics {
	return Diagnostics{{Severity: Error, Summary: fmt.Sprintf(summary, args...), Attribute: attribute}}
}

// Warnf returns a one-element Diagnostics with a Warning about attribute:
// `validate` shows it at the attribute's line, and the configuration is
// still accepted.
func Warnf(attribute, summary string, args ...any) Diagnostics {
	return Diagnostics{{Severity: Warning, Summary: fmt.Sprintf(summary, args...), Attribute: attribute}}
}
