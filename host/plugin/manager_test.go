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
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// pluginDir builds the SDK's example plugin into a fresh plugin_dir: a real
// third-party plugin, started as the daemon would start it.
func pluginDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "hasidecar-plugin-filecheck")
	cmd := exec.Command("go", "build", "-o", out, "github.com/hasidecar/hasidecar/sdk/example/filecheck")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the example plugin: %v\n%s", err, b)
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
	if _, _, err := check(t, m, "a"); err == nil || !strings.Contains(err.Error(), "not configured") {
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
	// While it is down, checks fail at once rather than hang.
	start := time.Now()
	for time.Since(start) < 20*time.Millisecond {
		if _, _, err := check(t, m, "a"); err != nil && time.Since(start) > 250*time.Millisecond {
			t.Fatalf("a check of a dead plugin took too long: %v", err)
		}
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
	m := newManager(t, Options{Dir: pluginDir(t), HungAfter: 2})
	_, cfg := healthyFile(t)
	if _, err := m.Configure(context.Background(), "filecheck", "a", cfg); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, m, "a", time.Second)
	old := m.Pid("filecheck")
	if err := syscall.Kill(old, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(old, syscall.SIGKILL) })
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
	if m.Pid("filecheck") == old {
		t.Fatal("still talking to the stopped process")
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

func TestMissingPlugin(t *testing.T) {
	m := newManager(t, Options{Dir: t.TempDir()})
	_, err := m.Schema(context.Background(), "nosuch")
	if err == nil || !strings.Contains(err.Error(), "hasidecar-plugin-nosuch not found (plugin_dir = ") {
		t.Fatalf("err = %v", err)
	}
}

func TestCloseLeavesNoPlugin(t *testing.T) {
	m := NewManager(Options{Dir: pluginDir(t), Log: zap.NewNop()})
	if _, err := m.Schema(context.Background(), "filecheck"); err != nil {
		t.Fatal(err)
	}
	pid := m.Pid("filecheck")
	m.Close()
	for end := time.Now().Add(5 * time.Second); alive(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("plugin %d outlived Close", pid)
		}
	}
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
