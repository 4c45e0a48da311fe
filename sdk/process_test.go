package sdk

import (
	"bufio"
	"bytes"
	"context"
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

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// These tests run plugins as real processes, started over go-plugin as the
// host starts them. The test binary plays two extra roles, chosen in
// TestMain: a plugin serving testChecker, and a minimal host that starts that
// plugin, prints its pid and waits to be killed. Each role has its own
// variable: go-plugin appends the host's environment to the plugin's, so a
// plugin started by the test host sees both, and the plugin role wins.
const (
	pluginRoleEnv = "HASIDECAR_SDK_TEST_PLUGIN"
	hostRoleEnv   = "HASIDECAR_SDK_TEST_HOST"
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(pluginRoleEnv) == "1":
		Serve(testChecker{})
		os.Exit(0)
	case os.Getenv(hostRoleEnv) == "1":
		os.Unsetenv(hostRoleEnv)
		os.Exit(runTestHost())
	}
	os.Exit(m.Run())
}

// runTestHost starts the test plugin without the host's parent-death signal,
// so that only the plugin's own watch can end it, prints its pid and blocks.
func runTestHost() int {
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{pluginRoleEnv + "=1"}
	c := plugin.NewClient(clientConfig(cmd, hclog.NewNullLogger()))
	rpc, err := c.Client()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test host:", err)
		return 1
	}
	if err := rpc.Ping(); err != nil {
		fmt.Fprintln(os.Stderr, "test host:", err)
		return 1
	}
	fmt.Println(c.ReattachConfig().Pid)
	select {}
}

func clientConfig(cmd *exec.Cmd, log hclog.Logger) *plugin.ClientConfig {
	return &plugin.ClientConfig{
		HandshakeConfig:  Handshake(),
		VersionedPlugins: PluginSets(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     10 * time.Second,
		Logger:           log,
	}
}

// syncBuffer is a bytes.Buffer safe for go-plugin's logging goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startPlugin starts cmd as the host would and returns its Client, its pid
// and the host-side log it writes to.
func startPlugin(t *testing.T, cmd *exec.Cmd) (*Client, int, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	c := plugin.NewClient(clientConfig(cmd, hclog.New(&hclog.LoggerOptions{
		Output: logs, JSONFormat: true, Level: hclog.Trace,
	})))
	t.Cleanup(c.Kill)
	rpc, err := c.Client()
	if err != nil {
		t.Fatalf("starting %s: %v\nhost log:\n%s", cmd.Path, err, logs)
	}
	checker, err := Dispense(rpc)
	if err != nil {
		t.Fatal(err)
	}
	return checker, c.ReattachConfig().Pid, logs
}

// testPlugin starts this test binary as a plugin serving testChecker.
func testPlugin(t *testing.T) (*Client, int, *syncBuffer) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{pluginRoleEnv + "=1"} // go-plugin adds the host's environment
	return startPlugin(t, cmd)
}

func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(st), ") Z")
}

func configure(t *testing.T, c *Client, id, cfg string) {
	t.Helper()
	diags, err := c.Configure(context.Background(), id, []byte(cfg))
	if err != nil || diags.HasErrors() {
		t.Fatalf("configure %s: %+v %v", id, diags, err)
	}
}

func checkWithin(c *Client, id string, timeout time.Duration) (Result, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Check(ctx, id)
}

// TestExamplePlugin builds sdk/example/filecheck, a plugin written on the
// SDK alone, and drives every RPC of the protocol against it.
func TestExamplePlugin(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hasidecar-plugin-filecheck")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/hasidecar/hasidecar/sdk/example/filecheck").CombinedOutput(); err != nil {
		t.Fatalf("building the example plugin: %v\n%s", err, out)
	}
	c, _, _ := startPlugin(t, exec.Command(bin))
	ctx := context.Background()

	s, err := c.Schema(ctx)
	want := []Attribute{
		{Name: "path", Type: String, Required: true, Description: "file that must exist"},
		{Name: "contains", Type: String, Description: "text the file must contain"},
	}
	if err != nil || len(s.Attributes) != len(want) || s.Attributes[0] != want[0] || s.Attributes[1] != want[1] {
		t.Fatalf("schema = %+v, %v; want %+v", s, err, want)
	}

	file := filepath.Join(t.TempDir(), "healthy")
	if err := os.WriteFile(file, []byte("all ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, cfg string
		attr      string // the attribute of the expected error; "-": no error
	}{
		{"valid", `{"path":"` + file + `"}`, "-"},
		{"relative path", `{"path":"healthy"}`, "path"},
		{"wrong type", `{"path":42}`, ""},
	} {
		t.Run("validate "+tt.name, func(t *testing.T) {
			diags, err := c.Validate(ctx, []byte(tt.cfg))
			switch {
			case err != nil:
				t.Fatal(err)
			case tt.attr == "-" && len(diags) != 0:
				t.Fatalf("diagnostics for a valid config: %+v", diags)
			case tt.attr != "-" && (!diags.HasErrors() || diags[0].Attribute != tt.attr):
				t.Fatalf("diagnostics %+v, want an error about %q", diags, tt.attr)
			}
		})
	}

	// Validate keeps nothing: the validated config is no check.
	if _, _, err := checkWithin(c, "valid", time.Second); status.Code(err) != codes.NotFound {
		t.Fatalf("check of an id only validated: %v", err)
	}

	configure(t, c, "present", `{"path":"`+file+`","contains":"ok"}`)
	configure(t, c, "absent", `{"path":"`+file+`","contains":"nope"}`)
	for _, tt := range []struct {
		id      string
		healthy bool
		message string
	}{
		{"present", true, "present"},
		{"absent", false, `does not contain "nope"`},
	} {
		res, latency, err := checkWithin(c, tt.id, time.Second)
		if err != nil || res.Healthy != tt.healthy || !strings.Contains(res.Message, tt.message) || latency <= 0 {
			t.Errorf("check %s = %+v, %v, %v; want healthy=%v and %q", tt.id, res, latency, err, tt.healthy, tt.message)
		}
	}

	// Configure under an existing id replaces that check.
	configure(t, c, "absent", `{"path":"`+file+`","contains":"all"}`)
	if res, _, err := checkWithin(c, "absent", time.Second); err != nil || !res.Healthy {
		t.Fatalf("check after reconfiguring: %+v %v", res, err)
	}

	if err := c.Remove(ctx, "present"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := checkWithin(c, "present", time.Second); status.Code(err) != codes.NotFound {
		t.Fatalf("check of a removed id: %v", err)
	}
}

func TestPanickingProbeLeavesThePluginServing(t *testing.T) {
	c, pid, logs := testPlugin(t)
	configure(t, c, "p", `{"mode":"panic"}`)
	configure(t, c, "ok", `{"mode":"ok"}`)
	for range 3 {
		res, _, err := checkWithin(c, "p", time.Second)
		if err != nil || res.Healthy || res.Message != "plugin panicked: boom" {
			t.Fatalf("check of a panicking probe = %+v, %v", res, err)
		}
	}
	if res, _, err := checkWithin(c, "ok", time.Second); err != nil || !res.Healthy {
		t.Fatalf("plugin unusable after panics: %+v %v", res, err)
	}
	if !alive(pid) {
		t.Fatal("plugin process died")
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "probe panicked") }, "the panic in the host's log")
	time.Sleep(100 * time.Millisecond) // any further lines would have arrived
	if n := strings.Count(logs.String(), "probe panicked"); n != 1 {
		t.Errorf("the panic's stack was logged %d times for 3 runs within a minute; want once", n)
	}
}

func TestProbeIgnoringItsContextEndsAtTheDeadline(t *testing.T) {
	c, _, _ := testPlugin(t)
	configure(t, c, "s", `{"mode":"slow"}`)
	start := time.Now()
	_, _, err := checkWithin(c, "s", 150*time.Millisecond)
	took := time.Since(start)
	if status.Code(err) != codes.DeadlineExceeded || took > 500*time.Millisecond {
		t.Fatalf("check of a probe ignoring its context: %v after %v; want DeadlineExceeded at 150ms", err, took)
	}
}

// TestLogReachesTheHost checks that a line logged with Log(ctx) inside a
// Check arrives in the host's log with its level and the check's name: after
// Serve, os.Stderr no longer reaches the host, so this is not a given.
func TestLogReachesTheHost(t *testing.T) {
	c, _, logs := testPlugin(t)
	configure(t, c, "l", `{"mode":"log"}`)
	if res, _, err := checkWithin(c, "l", time.Second); err != nil || !res.Healthy {
		t.Fatalf("%+v %v", res, err)
	}
	waitFor(t, func() bool {
		for line := range strings.SplitSeq(logs.String(), "\n") {
			if strings.Contains(line, `"@message":"from the probe"`) && strings.Contains(line, `"@level":"warn"`) &&
				strings.Contains(line, `"check":"l"`) && strings.Contains(line, `"mode":"log"`) {
				return true
			}
		}
		return false
	}, "the probe's warning in the host's log")
}

func TestPluginExitsWithItsKilledHost(t *testing.T) {
	host := exec.Command(os.Args[0])
	host.Env = append(os.Environ(), hostRoleEnv+"=1")
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		host.Process.Kill()
		host.Wait()
		t.Fatalf("test host: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || !alive(pid) {
		host.Process.Kill()
		host.Wait()
		t.Fatalf("plugin pid %q not running: %v", line, err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	host.Process.Kill() // SIGKILL: the host cannot stop its plugin
	host.Wait()
	start := time.Now()
	for alive(pid) {
		if time.Since(start) > 3*time.Second {
			t.Fatalf("plugin %d still running 3s after its host was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("plugin exited %v after its host", time.Since(start).Round(time.Millisecond))
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no %s within 3s", what)
		}
	}
}
