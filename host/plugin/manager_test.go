package plugin

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// examplePlugin is the SDK's example plugin, built once per test run: a
// real third-party plugin, started as the daemon would start it.
var examplePlugin = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "hasidecar-plugin-test")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "filecheck")
	cmd := exec.Command("go", "build", "-o", out, "github.com/hasidecar/hasidecar/sdk/example/filecheck")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the example plugin: %v\n%s", err, b)
	}
	return os.ReadFile(out)
})

// pluginDir returns a fresh plugin_dir holding hasidecar-plugin-filecheck.
func pluginDir(t *testing.T) string {
	t.Helper()
	bin, err := examplePlugin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hasidecar-plugin-filecheck"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func healthyFile(t *testing.T) (path string, config []byte) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "healthy")
	if err := os.WriteFile(path, []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, []byte(`{"path":"` + path + `","contains":"ok"}`)
}

func newManager(t *testing.T, opts Options) *Manager {
	t.Helper()
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Backoff == nil {
		opts.Backoff = func(int) time.Duration { return 50 * time.Millisecond }
	}
	m := NewManager(opts)
	t.Cleanup(m.Close)
	return m
}

func check(t *testing.T, m *Manager, id string) (bool, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, _, err := m.Check(ctx, "filecheck", id)
	return res.Healthy, res.Message, err
}

// waitHealthy polls a check until it passes.
func waitHealthy(t *testing.T, m *Manager, id string, timeout time.Duration) {
	t.Helper()
	var msg string
	var err error
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		var ok bool
		if ok, msg, err = check(t, m, id); ok && err == nil {
			return
		}
	}
	t.Fatalf("check %s not healthy within %v: %q %v", id, timeout, msg, err)
}

// waitGone fails the test unless process pid is gone within d.
func waitGone(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); alive(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("plugin process %d still running after %v", pid, d)
		}
	}
}

func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(st), ") Z")
}

func TestSchemaValidateConfigureCheckRemove(t *testing.T) {
	m := newManager(t, Options{Dir: pluginDir(t)})
	ctx := context.Background()
	s, err := m.Schema(ctx, "filecheck")
	if err != nil || len(s.Attributes) != 2 || s.Attributes[0].Name != "path" || !s.Attributes[0].Required {
		t.Fatalf("schema %+v, %v", s, err)
	}
	diags, err := m.Validate(ctx, "filecheck", []byte(`{"path":"relative"}`))
	if err != nil || !diags.HasErrors() || diags[0].Attribute != "path" {
		t.Fatalf("validate of a bad config: %+v %v", diags, err)
	}
	path, cfg := healthyFile(t)
	if diags, err := m.Configure(ctx, "filecheck", "a", cfg); err != nil || diags.HasErrors() {
		t.Fatalf("configure: %v %v", diags, err)
	}
	if ok, msg, err := check(t, m, "a"); !ok || err != nil {
		t.Fatalf("check: %v %q %v", ok, msg, err)
	}
	os.Remove(path)
	if ok, msg, _ := check(t, m, "a"); ok || !strings.Contains(msg, "no such file") {
		t.Fatalf("check of a missing file: %v %q", ok, msg)
	}
	if err := m.Remove(ctx, "filecheck", "a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := check(t, m, "a"); status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `plugin "filecheck"`) {
		t.Fatalf("check after remove: %v", err)
	}
}

func TestOneProcessForEveryCheck(t *testing.T) {
	m := newManager(t, Options{Dir: pluginDir(t)})
	_, cfg := healthyFile(t)
	for _, id := range []string{"a", "b", "c"} {
		if _, err := m.Configure(context.Background(), "filecheck", id, cfg); err != nil {
			t.Fatal(err)
		}
	}
	pid := m.Pid("filecheck")
	for _, id := range []string{"a", "b", "c"} {
		waitHealthy(t, m, id, time.Second)
	}
	if m.Pid("filecheck") != pid || pid == 0 {
		t.Fatalf("pid changed or missing: %d then %d", pid, m.Pid("filecheck"))
	}
}

func TestKilledPluginIsRestartedWithItsChecks(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	m := newManager(t, Options{Dir: pluginDir(t), Log: zap.New(core)})
	_, cfg := healthyFile(t)
	if _, err := m.Configure(context.Background(), "filecheck", "a", cfg); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, m, "a", time.Second)
	old := m.Pid("filecheck")
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// While it is down, checks fail at once rather than wait for it.
	failed := false
	for end := time.Now().Add(time.Second); !failed && time.Now().Before(end); {
		start := time.Now()
		_, _, err := check(t, m, "a")
		if took := time.Since(start); took > 100*time.Millisecond {
			t.Fatalf("a check of a dead plugin took %v (%v)", took, err)
		}
		failed = err != nil
	}
	if !failed {
		t.Fatal("checks kept passing with the plugin killed")
	}
	waitHealthy(t, m, "a", 5*time.Second)
	if m.Restarts("filecheck") != 1 || m.Pid("filecheck") == old {
		t.Fatalf("restarts %d, pid %d (was %d)", m.Restarts("filecheck"), m.Pid("filecheck"), old)
	}
	if logs.FilterMessage("restarting plugin").Len() == 0 {
		t.Error("the restart was not logged")
	}
}

func TestStoppedPluginTimesOutAndIsRestarted(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	m := newManager(t, Options{Dir: pluginDir(t), HungAfter: 2, Log: zap.New(core)})
	_, cfg := healthyFile(t)
	if _, err := m.Configure(context.Background(), "filecheck", "a", cfg); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, m, "a", time.Second)
	old := m.Pid("filecheck")
	if err := syscall.Kill(old, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(old, syscall.SIGKILL) }) // only if the test fails early
	waitStopped(t, old)
	for range 2 {
		start := time.Now()
		if _, _, err := check(t, m, "a"); err == nil {
			t.Fatal("a stopped plugin answered")
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("check of a stopped plugin returned after %v, not at its 300ms deadline", took)
		}
	}
	waitHealthy(t, m, "a", 10*time.Second)
	if m.Pid("filecheck") == old || m.Restarts("filecheck") != 1 {
		t.Fatalf("pid %d (was %d), restarts %d", m.Pid("filecheck"), old, m.Restarts("filecheck"))
	}
	// The stopped process cannot answer go-plugin's shutdown request; it
	// must be killed, not left behind.
	waitGone(t, old, 2*time.Second)
	if logs.FilterMessage("restarting plugin").FilterField(zap.Int("attempt", 1)).Len() != 1 {
		t.Errorf("restart not logged with its attempt: %v", logs.All())
	}
}

func TestCloseStopsAHungPlugin(t *testing.T) {
	m := NewManager(Options{Dir: pluginDir(t), Log: zap.NewNop()})
	if _, err := m.Schema(context.Background(), "filecheck"); err != nil {
		t.Fatal(err)
	}
	pid := m.Pid("filecheck")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) }) // only if the test fails
	start := time.Now()
	m.Close()
	if took := time.Since(start); took > killGrace+time.Second {
		t.Errorf("Close took %v", took)
	}
	waitGone(t, pid, time.Second)
}

func TestPluginLogReachesZap(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	m := newManager(t, Options{Dir: pluginDir(t), Log: zap.New(core)})
	// A directory cannot be read as a file: the example plugin logs a
	// warning with sdk.Log(ctx).
	cfg := []byte(`{"path":"` + t.TempDir() + `"}`)
	if _, err := m.Configure(context.Background(), "filecheck", "d", cfg); err != nil {
		t.Fatal(err)
	}
	if ok, msg, err := check(t, m, "d"); ok || err != nil {
		t.Fatalf("check of a directory: %v %q %v", ok, msg, err)
	}
	for end := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got := logs.FilterMessage("cannot read the file").FilterField(zap.String("plugin", "filecheck")).
			FilterField(zap.String("check", "d")).All()
		if len(got) == 1 && got[0].Level == zap.WarnLevel {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the plugin's warning is not in the host's log as a warning of plugin=filecheck check=d: %v", got)
		}
	}
	for _, e := range logs.All() {
		if n := strings.Count(fmt.Sprint(e.Context), "{plugin "); n > 1 {
			t.Errorf("entry %q has %d plugin fields", e.Message, n)
		}
	}
}

func TestPinnedChecksum(t *testing.T) {
	dir := pluginDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "hasidecar-plugin-filecheck"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	good := newManager(t, Options{Dir: dir, Pins: map[string]string{"filecheck": hex.EncodeToString(sum[:])}})
	if _, err := good.Schema(context.Background(), "filecheck"); err != nil {
		t.Fatalf("a matching pin was refused: %v", err)
	}
	bad := newManager(t, Options{Dir: dir, Pins: map[string]string{"filecheck": strings.Repeat("ab", 32)}})
	if _, err := bad.Schema(context.Background(), "filecheck"); err == nil || !strings.Contains(err.Error(), "does not match its pinned sha256") {
		t.Fatalf("a mismatching pin: %v", err)
	}
	if bad.Pid("filecheck") != 0 {
		t.Fatal("a refused plugin runs")
	}
}

// TestInsecurePluginIsRefused: a root daemon does not run a plugin binary
// another user could replace, as the script plugin refuses such scripts.
func TestInsecurePluginIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the check applies to a root daemon only")
	}
	dir := pluginDir(t)
	os.Chmod(filepath.Join(dir, "hasidecar-plugin-filecheck"), 0o757)
	m := newManager(t, Options{Dir: dir})
	if _, err := m.Schema(context.Background(), "filecheck"); err == nil || !strings.Contains(err.Error(), "is writable by everyone") {
		t.Fatalf("an insecure plugin: %v", err)
	}
	if m.Pid("filecheck") != 0 {
		t.Fatal("a refused plugin runs")
	}
}

func TestPath(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"ok": 0o755, "notexec": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, "hasidecar-plugin-"+name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "hasidecar-plugin-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, Options{Dir: dir})
	for _, tt := range []struct {
		name, plugin, err string
	}{
		{"executable", "ok", ""},
		{"missing", "nosuch", `plugin "nosuch": ` + dir + `/hasidecar-plugin-nosuch not found (plugin_dir = ` + dir + `)`},
		{"not executable", "notexec", "is not an executable file"},
		{"directory", "dir", "is not an executable file"},
		{"path in the name", "../ok", "a plugin name is letters, digits"},
		{"empty name", "", "a plugin name is letters, digits"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := m.Path(tt.plugin)
			switch {
			case tt.err == "" && (err != nil || p != filepath.Join(dir, "hasidecar-plugin-"+tt.plugin)):
				t.Fatalf("Path = %q, %v", p, err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestMissingPlugin(t *testing.T) {
	m := newManager(t, Options{Dir: t.TempDir()})
	_, err := m.Schema(context.Background(), "nosuch")
	if err == nil || !strings.Contains(err.Error(), "hasidecar-plugin-nosuch not found (plugin_dir = ") {
		t.Fatalf("err = %v", err)
	}
	if m.Pid("nosuch") != 0 {
		t.Fatal("a missing plugin has a pid")
	}
}

func TestCloseLeavesNoPlugin(t *testing.T) {
	m := NewManager(Options{Dir: pluginDir(t), Log: zap.NewNop()})
	if _, err := m.Schema(context.Background(), "filecheck"); err != nil {
		t.Fatal(err)
	}
	pid := m.Pid("filecheck")
	m.Close()
	waitGone(t, pid, time.Second)
	if _, err := m.Schema(context.Background(), "filecheck"); err == nil {
		t.Fatal("a closed manager started a plugin")
	}
}

// TestMain doubles as a host process for TestPluginDiesWithAKilledHost: with
// HASIDECAR_TEST_HOST_PLUGIN_DIR set, it starts the plugin, prints its pid
// and waits to be killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("HASIDECAR_TEST_HOST_PLUGIN_DIR"); dir != "" {
		host := NewManager(Options{Dir: dir})
		if _, err := host.Schema(context.Background(), "filecheck"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(host.Pid("filecheck"))
		select {}
	}
	os.Exit(m.Run())
}

func TestPluginDiesWithAKilledHost(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HASIDECAR_TEST_HOST_PLUGIN_DIR="+pluginDir(t))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("host: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || !alive(pid) {
		cmd.Process.Kill()
		t.Fatalf("plugin pid %q not running: %v", line, err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	cmd.Process.Kill() // SIGKILL: the host gets no chance to stop its plugins
	cmd.Wait()
	for end := time.Now().Add(5 * time.Second); alive(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("plugin %d outlived its SIGKILLed host", pid)
		}
	}
}

func TestBrokenPluginFailsToStartClearly(t *testing.T) {
	for _, tt := range []struct {
		name, script, err string
	}{
		{"exits at once", "exit 3", "Unrecognized remote plugin message"},
		{"prints to stdout", "echo hello; exec sleep 5", "Unrecognized remote plugin message"},
		{"never answers", "exec sleep 5", "timeout while waiting for plugin to start"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "hasidecar-plugin-broken"), []byte("#!/bin/sh\n"+tt.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			m := newManager(t, Options{Dir: dir, StartTimeout: 300 * time.Millisecond})
			start := time.Now()
			_, err := m.Schema(context.Background(), "broken")
			if err == nil || !strings.Contains(err.Error(), `plugin "broken": starting `) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("failing to start took %v with a 300ms start timeout", took)
			}
		})
	}
}

// waitStopped waits until pid is really stopped: kill(SIGSTOP) returns before
// the target's threads have all halted, and one could still answer.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.LastIndexByte(string(st), ')'); i > 0 && strings.HasPrefix(strings.TrimSpace(string(st[i+1:])), "T") {
			return
		}
	}
	t.Fatalf("process %d did not stop", pid)
}

func TestStopRetiresAPlugin(t *testing.T) {
	m := newManager(t, Options{Dir: pluginDir(t)})
	_, cfg := healthyFile(t)
	if _, err := m.Configure(context.Background(), "filecheck", "a", cfg); err != nil {
		t.Fatal(err)
	}
	pid := m.Pid("filecheck")
	m.Stop("filecheck")
	waitGone(t, pid, 5*time.Second)
	if len(m.Running()) != 0 || m.Pid("filecheck") != 0 {
		t.Fatalf("still running: %v", m.Running())
	}
	// Named again later, it starts afresh.
	if _, err := m.Schema(context.Background(), "filecheck"); err != nil || m.Pid("filecheck") == 0 {
		t.Fatalf("not started again: %v", err)
	}
}

// TestSocketDirectoriesAreRemoved checks that no go-plugin socket is left in
// the temporary directory by a plugin that was killed, restarted or stopped.
func TestSocketDirectoriesAreRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	m := NewManager(Options{Dir: pluginDir(t)})
	_, cfg := healthyFile(t)
	if _, err := m.Configure(context.Background(), "filecheck", "a", cfg); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, m, "a", time.Second)
	if err := syscall.Kill(m.Pid("filecheck"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sawExited := false
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		_, _, err := check(t, m, "a")
		if err != nil && strings.Contains(err.Error(), "rpc error") {
			t.Fatalf("a check of a dead plugin says %q; want plain words", err)
		}
		sawExited = sawExited || (err != nil && strings.Contains(err.Error(), "exited"))
		if err == nil && m.Restarts("filecheck") == 1 {
			break
		}
	}
	if !sawExited {
		t.Error("no check said the plugin exited")
	}
	m.Close()
	left, _ := filepath.Glob(filepath.Join(tmp, "*"))
	if len(left) != 0 {
		t.Fatalf("left in the temporary directory: %v", left)
	}
}
