package kaimport

import "testing"

func TestUnquotedShell(t *testing.T) {
	for s, want := range map[string]bool{
		"</dev/tcp/127.0.0.1/80":               true,
		"pidof nginx && true":                  true,
		"test -s $PIDFILE":                     true,
		"a; b":                                 true,
		"a | b":                                true,
		"killall -0 nginx":                     false,
		"bash -c '</dev/tcp/127.0.0.1/80'":     false,
		`bash -c "a | b"`:                      false,
		`echo \>x`:                             false,
		`sh -c 'a' > /dev/null`:                true,
		"/usr/lib/nagios/check_http -H x -u /": false,
	} {
		if got := unquotedShell(s); got != want {
			t.Errorf("unquotedShell(%q) = %v, want %v", s, got, want)
		}
	}
}
