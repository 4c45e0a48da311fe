package config

import (
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// FormatDiagnostic renders one diagnostic as a single line without color:
//
//	file:line:col: error: summary; detail
//
// A diagnostic without a position starts at its severity; one without a
// detail ends at its summary.
func FormatDiagnostic(d *hcl.Diagnostic) string {
	if d == nil {
		return ""
	}
	var b strings.Builder
	if d.Subject != nil && d.Subject.Filename != "" {
		fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
	}
	switch d.Severity {
	case hcl.DiagWarning:
		b.WriteString("warning: ")
	default:
		b.WriteString("error: ")
	}
	b.WriteString(oneLine(d.Summary))
	if detail := oneLine(d.Detail); detail != "" {
		b.WriteString("; ")
		b.WriteString(detail)
	}
	return b.String()
}

// WriteDiagnostics writes each diagnostic on its own line, in the order given.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) {
	for _, d := range diags {
		if d == nil {
			continue
		}
		fmt.Fprintln(w, FormatDiagnostic(d))
	}
}

// oneLine folds runs of whitespace, including newlines, into single spaces so
// that one diagnostic is always one line for grep and for the CLI.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
