package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

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
		if why := insecure(path); why != "" {
			return nil, sdk.Diagnostics{{Severity: sdk.Error, Attribute: "command",
				Summary: fmt.Sprintf("refusing to run %s as root: %s", path, why),
				Detail:  "a script that another user can change would run with our privileges (keepalived's enable_script_security); make it and its directories owned by root and not writable by group or others: chown root " + path + "; chmod go-w " + path}}
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

// insecure says why path may not be run as root, or "" when it may: the
// file and every directory above it must be owned by root and not writable
// by group or others, except directories with the sticky bit (such as /tmp),
// where others cannot replace what root owns.
func insecure(path string) string {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err.Error()
	}
	for p := real; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err.Error()
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return "cannot read the owner of " + p
		}
		sticky := st.IsDir() && st.Mode()&os.ModeSticky != 0
		switch {
		case sys.Uid != 0:
			return fmt.Sprintf("%s is owned by uid %d, not root", p, sys.Uid)
		case st.Mode()&0o020 != 0 && sys.Gid != 0 && !sticky:
			return fmt.Sprintf("%s is writable by its group (gid %d)", p, sys.Gid)
		case st.Mode()&0o002 != 0 && !sticky:
			return fmt.Sprintf("%s is writable by everyone", p)
		}
		if p == "/" {
			return ""
		}
	}
}

func (p *probe) Check(ctx context.Context) sdk.Result {
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
	// Its own process group, so that the timeout kills what it forked too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 500 * time.Millisecond
	var out bytes.Buffer
	// One writer for both: exec then never calls it from two goroutines.
	w := &limited{w: &out, n: 4096}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	if cmd.Process != nil {
		// Children that outlived a quick exit of their parent go too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	first := firstLine(out.String())
	if ctx.Err() != nil {
		return sdk.Unhealthy("killed at the timeout%s", suffix(first))
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return sdk.Healthy("exit 0%s", suffix(first))
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		code := exit.ExitCode()
		if p.dynamic && code >= 2 {
			return sdk.Healthy("exit %d (misc_dynamic weight %d)%s", code, code-2, suffix(first))
		}
		return sdk.Unhealthy("exit %d%s", code, suffix(first))
	case errors.As(err, &exit):
		return sdk.Unhealthy("%v%s", exit.ProcessState, suffix(first))
	}
	return sdk.Unhealthy("%v", err)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
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
