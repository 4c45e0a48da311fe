// Package script runs a program as a health check
// (keepalived's MISC_CHECK): exit status 0 is healthy, 1 is not.
package script

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hasidecar/hasidecar/sdk"
)

type checker struct{}

func (checker) Schema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "command", Type: sdk.ListString, Required: true, Description: "absolute path of the program, then its arguments; no shell"},
		{Name: "user", Type: sdk.String, Description: "run as this user (the plugin must run as root)"},
		{Name: "dynamic", Type: sdk.Bool, Description: "keepalived's misc_dynamic: exit 2-255 also counts as healthy"},
	}}
}

type config struct {
	Command []string `json:"command"`
	User    string   `json:"user"`
	Dynamic bool     `json:"dynamic"`
}

type probe struct {
	argv    []string
	cred    *syscall.Credential
	dynamic bool
}

func (checker) New(c sdk.Config) (sdk.Probe, sdk.Diagnostics) {
	var cfg config
	if err := c.Decode(&cfg); err != nil {
		return nil, sdk.Errorf("", "decoding the configuration: %v", err)
	}
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, sdk.Errorf("command", "command is empty; give the program's absolute path, e.g. [\"/etc/hasidecar/check.sh\"]")
	}
	path := cfg.Command[0]
	if !filepath.IsAbs(path) {
		return nil, sdk.Errorf("command", "%q is not an absolute path; commands run without a shell or PATH", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, sdk.Errorf("command", "%v", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, sdk.Errorf("command", "%s is not executable (chmod 0755 %s)", path, path)
	}
	if os.Geteuid() == 0 {
		if err := sdk.RootSafe(path); err != nil {
			return nil, sdk.Diagnostics{{Severity: sdk.Error, Attribute: "command",
				Summary: err.Error(),
				Detail: "A script that another user can change would run with the plugin's privileges " +
					"(keepalived's enable_script_security): the script and every directory above it must be " +
					"owned by root and not writable by group or others (sticky directories such as /tmp excepted)."}}
		}
	}
	p := &probe{argv: cfg.Command, dynamic: cfg.Dynamic}
	if cfg.User != "" {
		cred, diags := credential(cfg.User)
		if diags != nil {
			return nil, diags
		}
		p.cred = cred
	}
	return p, nil
}

// credential resolves user into the credential to run as.
func credential(name string) (*syscall.Credential, sdk.Diagnostics) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, sdk.Errorf("user", "unknown user %q", name)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if os.Geteuid() != 0 {
		if int(uid) == os.Geteuid() {
			return nil, nil // already that user
		}
		return nil, sdk.Errorf("user", "cannot run as %q: the plugin runs as uid %d, not root", name, os.Geteuid())
	}
	var groups []uint32
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				groups = append(groups, uint32(n))
			}
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, nil
}

// drainWait bounds how long output is read after the script and its
// process group are gone: only a descendant that left the group (setsid)
// can still hold the pipe open, and it must not hold the check up.
const drainWait = 100 * time.Millisecond

func (p *probe) Check(ctx context.Context) sdk.Result {
	// Our own pipe rather than exec's copying goroutines: Wait then returns
	// when the script exits, even if something it started in the background
	// still holds its output open.
	r, w, err := os.Pipe()
	if err != nil {
		return sdk.Unhealthy("%v", err)
	}
	defer r.Close()
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
	// Its own process group, so that the timeout kills what it forked too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		return sdk.Unhealthy("%v", err)
	}
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		io.Copy(&limited{w: &out, n: 4096}, r)
	}()
	waitErr := cmd.Wait()
	// Children that outlived their parent go too: a check leaves nothing
	// running behind it.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	r.SetReadDeadline(time.Now().Add(drainWait))
	<-read
	return p.result(ctx, cmd.ProcessState, waitErr, firstLine(out.Bytes()))
}

// result turns how the script ended into a check result.
func (p *probe) result(ctx context.Context, st *os.ProcessState, waitErr error, first string) sdk.Result {
	if st == nil {
		return sdk.Unhealthy("%v", waitErr)
	}
	ws, _ := st.Sys().(syscall.WaitStatus)
	switch code := st.ExitCode(); {
	case ws.Signaled() && ws.Signal() == syscall.SIGKILL && ctx.Err() != nil:
		return sdk.Unhealthy("killed at the timeout%s", suffix(first))
	case code == 0:
		return sdk.Healthy("exit 0%s", suffix(first))
	case code > 0 && p.dynamic && code >= 2:
		// keepalived's misc_dynamic: 2-255 pass and set the weight to code-2.
		return sdk.Healthy("exit %d (misc_dynamic weight %d)%s", code, code-2, suffix(first))
	case code > 0:
		return sdk.Unhealthy("exit %d%s", code, suffix(first))
	}
	return sdk.Unhealthy("%v%s", st, suffix(first))
}

// maxMessage is the most of a script's output that reaches the message.
const maxMessage = 200

// firstLine returns the first non-empty line of out, at most maxMessage
// bytes of valid UTF-8 with control characters dropped: the message travels
// as a protobuf string and lands in logs and status tables.
func firstLine(out []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(out), "\uFFFD"))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// limited keeps the first n bytes written and discards the rest, so a
// chatty script cannot fill the plugin's memory.
type limited struct {
	w *bytes.Buffer
	n int
}

func (l *limited) Write(b []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

// New returns the script checker, for sdk.Serve.
func New() sdk.Checker { return checker{} }
