package kaimport

import (
	"strings"

	"github.com/hasidecar/hasidecar/host/kaconf"
)

// shellChars are what makes a script line shell syntax rather than a
// program and its arguments: redirections, pipes, lists and expansions.
const shellChars = "<>|&;$`"

// shellScript returns the command for a script line written as shell
// syntax (`script "</dev/tcp/127.0.0.1/80"`, `script "pidof nginx && …"`),
// which keepalived hands to a shell, and why it was so imported; nil for a
// plain program and arguments.
func shellScript(s *kaconf.Statement) ([]string, string) {
	words, err := kaconf.SplitQuotedEscaped(s.Raw)
	if err != nil || len(words) < 2 || !unquotedShell(words[1]) {
		return nil, ""
	}
	script := words[1]
	// /dev/tcp and /dev/udp are bash's own: dash, Debian's /bin/sh, opens
	// them as files and fails, which is why keepalived's sample says to
	// use bash.
	if strings.Contains(script, "/dev/tcp/") || strings.Contains(script, "/dev/udp/") {
		return []string{"/bin/bash", "-c", script}, "shell syntax, run as [\"/bin/bash\", \"-c\", …] (its /dev/tcp or /dev/udp is bash's: Debian's /bin/sh cannot open it); hasidecar runs a command without a shell unless told to"
	}
	return []string{"/bin/sh", "-c", script}, "shell syntax, run as [\"/bin/sh\", \"-c\", …]; hasidecar runs a command without a shell unless told to"
}

// unquotedShell reports whether s has a shell character outside quotes:
// "bash -c '</dev/tcp/…'" is a program and its arguments, split by
// keepalived's quoting, with no shell needed to run it.
func unquotedShell(s string) bool {
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case strings.ContainsRune(shellChars, r):
			return true
		}
	}
	return false
}
