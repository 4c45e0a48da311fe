package script

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/sdk"
)

// safeDir returns a directory that script security accepts: owned by us and
// writable by nobody else (t.TempDir's parents are /tmp, sticky).
func safeDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	os.Chmod(d, 0o755)
	os.Chmod(filepath.Dir(d), 0o755)
	return d
}

func writeScript(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, mode)
	return p
}

func newProbe(cfg map[string]any) (sdk.Probe, sdk.Diagnostics) {
	js, _ := json.Marshal(cfg)
	return checker{}.New(sdk.NewConfig(js))
}

func run(t *testing.T, cfg map[string]any, timeout time.Duration) sdk.Result {
	t.Helper()
	p, diags := newProbe(cfg)
	if diags.HasErrors() {
		t.Fatalf("New: %v", diags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Check(ctx)
}

func TestExitCodes(t *testing.T) {
	dir := safeDir(t)
	tests := []struct {
		name    string
		body    string
		dynamic bool
		healthy bool
		message string
	}{
		{"exit 0", "echo all good; exit 0", false, true, "exit 0: all good"},
		{"exit 1", "echo nginx down >&2; exit 1", false, false, "exit 1: nginx down"},
		{"exit 2 fails without dynamic", "exit 2", false, false, "exit 2"},
		{"exit 2 passes with dynamic", "exit 2", true, true, "exit 2 (misc_dynamic weight 0)"},
		{"exit 42 with dynamic", "exit 42", true, true, "exit 42 (misc_dynamic weight 40)"},
		{"exit 1 fails with dynamic", "exit 1", true, false, "exit 1"},
		{"killed by a signal", "kill -9 $$", false, false, "signal: killed"},
		{"first line only", "printf 'one\\ntwo\\n'; exit 1", false, false, "exit 1: one"},
		{"control characters dropped", "printf 'a\\tb\\033[31mc\\n'", false, true, "exit 0: ab[31mc"},
		{"invalid UTF-8 replaced", "printf 'x\\377y\\n'", false, true, "exit 0: x\uFFFDy"},
		{"long line cut at 200 bytes", "printf '%0300d\\n' 0; exit 1", false, false, "exit 1: " + strings.Repeat("0", 200)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeScript(t, dir, "s"+strconv.Itoa(i), tt.body, 0o755)
			res := run(t, map[string]any{"command": []string{path}, "dynamic": tt.dynamic}, 2*time.Second)
			if res.Healthy != tt.healthy || res.Message != tt.message {
				t.Fatalf("%+v, want healthy=%v %q", res, tt.healthy, tt.message)
			}
		})
	}
}

// gone waits until pid is no process or a zombie (reaped by init soon).
func gone(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z") {
			return
		}
		if time.Now().After(end) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d survived the check", pid)
		}
	}
}

// A script that exits at once but leaves a child holding its output must
// still count by its exit status, promptly, and the child must not outlive it.
func TestBackgroundChildHoldingOutput(t *testing.T) {
	dir := safeDir(t)
	pidFile := filepath.Join(dir, "pid")
	path := writeScript(t, dir, "bg", "echo started; sleep 100 & echo $! > "+pidFile+"; exit 0", 0o755)
	start := time.Now()
	res := run(t, map[string]any{"command": []string{path}}, 3*time.Second)
	if !res.Healthy || res.Message != "exit 0: started" {
		t.Fatalf("%+v", res)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("took %v: waited for the background child", took)
	}
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q", b)
	}
	gone(t, pid)
}

func TestArgumentsWithoutShell(t *testing.T) {
	dir := safeDir(t)
	path := writeScript(t, dir, "args", `[ "$1" = 'a b' ] && [ "$2" = '$HOME' ]`, 0o755)
	if res := run(t, map[string]any{"command": []string{path, "a b", "$HOME"}}, 2*time.Second); !res.Healthy {
		t.Fatalf("arguments were not passed as given: %+v", res)
	}
}

func TestTimeoutKillsTheWholeGroup(t *testing.T) {
	dir := safeDir(t)
	pids := filepath.Join(dir, "pids")
	path := writeScript(t, dir, "hang", "sleep 100 & echo $! > "+pids+"; sleep 100 & echo $! >> "+pids+"; wait", 0o755)
	start := time.Now()
	res := run(t, map[string]any{"command": []string{path}}, 200*time.Millisecond)
	if res.Healthy || !strings.HasPrefix(res.Message, "killed at the timeout") {
		t.Fatalf("%+v", res)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("returned after %v", took)
	}
	b, _ := os.ReadFile(pids)
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		t.Fatalf("pids %q", b)
	}
	for _, f := range fields {
		pid, _ := strconv.Atoi(f)
		gone(t, pid)
	}
}

func TestRunsAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	dir := safeDir(t)
	path := writeScript(t, dir, "whoami", `[ "$(id -u)" = "$(id -u nobody)" ]`, 0o755)
	if res := run(t, map[string]any{"command": []string{path}, "user": "nobody"}, 2*time.Second); !res.Healthy {
		t.Fatalf("did not run as nobody: %+v", res)
	}
	if res := run(t, map[string]any{"command": []string{path}}, 2*time.Second); res.Healthy {
		t.Fatal("ran as nobody without being asked")
	}
}

type badCase struct {
	name string
	cfg  map[string]any
	attr string
	want string
}

func TestBadConfig(t *testing.T) {
	dir := safeDir(t)
	ok := writeScript(t, dir, "ok", "exit 0", 0o755)
	notExec := writeScript(t, dir, "noexec", "exit 0", 0o644)
	tests := []badCase{
		{"empty command", map[string]any{"command": []string{}}, "command", "command is empty"},
		{"relative path", map[string]any{"command": []string{"check.sh"}}, "command", "not an absolute path"},
		{"missing file", map[string]any{"command": []string{"/nonexistent/check.sh"}}, "command", "no such file"},
		{"not executable", map[string]any{"command": []string{notExec}}, "command", "not executable"},
		{"unknown user", map[string]any{"command": []string{ok}, "user": "no-such-user-hasi"}, "user", "unknown user"},
	}
	if os.Geteuid() == 0 {
		groupWritable := writeScript(t, dir, "gw", "exit 0", 0o775)
		os.Chown(groupWritable, 0, 100)
		worldDir := filepath.Join(dir, "world")
		os.Mkdir(worldDir, 0o777)
		os.Chmod(worldDir, 0o777)
		inWorld := writeScript(t, worldDir, "x", "exit 0", 0o755)
		notRoot := writeScript(t, dir, "nr", "exit 0", 0o755)
		os.Chown(notRoot, 65534, 0)
		rootGroupWritable := writeScript(t, dir, "rgw", "exit 0", 0o775)
		os.Chown(rootGroupWritable, 0, 0)
		groupDir := filepath.Join(dir, "group")
		os.Mkdir(groupDir, 0o775)
		os.Chmod(groupDir, 0o775)
		inGroupDir := writeScript(t, groupDir, "x", "exit 0", 0o755)
		link := filepath.Join(worldDir, "link")
		os.Symlink(ok, link)
		tests = append(tests,
			badCase{"group-writable script refused as root", map[string]any{"command": []string{groupWritable}}, "command", "writable by its group"},
			badCase{"world-writable directory refused as root", map[string]any{"command": []string{inWorld}}, "command", "writable by everyone"},
			badCase{"script owned by another user refused as root", map[string]any{"command": []string{notRoot}}, "command", "not root (fix: chown root " + notRoot + ")"},
			badCase{"group-writable even by root's group refused", map[string]any{"command": []string{rootGroupWritable}}, "command", "(fix: chmod go-w " + rootGroupWritable + ")"},
			badCase{"script in a group-writable directory refused", map[string]any{"command": []string{inGroupDir}}, "command", groupDir + " is writable by its group"},
			badCase{"symlink in a world-writable directory refused", map[string]any{"command": []string{link}}, "command", worldDir + " is writable by everyone"},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := newProbe(tt.cfg)
			if !diags.HasErrors() || diags[0].Attribute != tt.attr || !strings.Contains(diags[0].Summary, tt.want) {
				t.Fatalf("diags %+v, want an error on %s with %q", diags, tt.attr, tt.want)
			}
		})
	}
}

func TestSchemaKeys(t *testing.T) {
	s := checker{}.Schema()
	want := map[string]bool{"command": true, "user": false, "dynamic": false}
	if len(s.Attributes) != len(want) {
		t.Fatalf("%+v", s)
	}
	for _, a := range s.Attributes {
		if req, ok := want[a.Name]; !ok || req != a.Required {
			t.Errorf("attribute %+v", a)
		}
	}
}
