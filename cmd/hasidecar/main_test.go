package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/control"
	"github.com/hasidecar/hasidecar/host/status"
)

func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const validConfig = `
node_name = "n1"
control { socket = "%SOCK%" }
vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.100/24"]
}
`

func TestCommandLine(t *testing.T) {
	good := writeFile(t, "good.hcl", strings.ReplaceAll(validConfig, "%SOCK%", "/run/x.sock"))
	bad := writeFile(t, "bad.hcl", strings.Replace(strings.ReplaceAll(validConfig, "%SOCK%", "/run/x.sock"), "virtual_router_id = 51", "virtual_router_id = 300", 1))
	unknown := writeFile(t, "unknown.hcl", strings.ReplaceAll(validConfig, "%SOCK%", "/run/x.sock")+"\nbogus = 1\n")
	noIface := writeFile(t, "noiface.hcl", strings.ReplaceAll(strings.ReplaceAll(validConfig, "%SOCK%", "/run/x.sock"), `"eth0"`, `"nosuch0"`))
	goodJSON := writeFile(t, "good.json", `{"node_name": "n1", "vrrp_instance": {"VI_1": {"interface": "lo", "virtual_router_id": 51,
  "priority": 150, "virtual_ips": ["198.51.100.100/24"]}}}`)
	badJSON := writeFile(t, "bad.json", "{\n  \"node_name\": \"n1\",\n  \"vrrp_instance\": {\"VI_1\": {\"interface\": \"lo\", \"virtual_router_id\": 300,\n  \"priority\": 150, \"virtual_ips\": [\"198.51.100.100/24\"]}}}")
	lb2 := writeFile(t, "lb2.hcl", strings.Replace(strings.ReplaceAll(validConfig, "%SOCK%", "/run/x.sock"), `"n1"`, `"n2"`, 1)+"\n")
	lb2src, _ := os.ReadFile(lb2)
	os.WriteFile(lb2, []byte(strings.Replace(string(lb2src), "priority          = 150", "priority          = 100", 1)), 0o644)
	good2 := writeFile(t, "good2.hcl", strings.Replace(strings.ReplaceAll(validConfig, "%SOCK%", "/run/x.sock"), `"n1"`, `"n2"`, 1))
	empty := writeFile(t, "empty.hcl", `node_name = "n1"`+"\n")
	noNotify := writeFile(t, "nonotify.hcl", strings.Replace(strings.ReplaceAll(strings.ReplaceAll(validConfig, "%SOCK%", "/run/x.sock"), `"eth0"`, `"lo"`),
		"priority          = 150", "priority          = 150\n  notify_master     = [\"/nonexistent/page.sh\", \"up\"]", 1))
	noDaemon := writeFile(t, "nodaemon.hcl", strings.ReplaceAll(validConfig, "%SOCK%", filepath.Join(t.TempDir(), "none.sock")))

	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring
		stderr     string // substring
		noStdError bool
	}{
		{"no arguments", nil, 2, "", "Usage:", false},
		{"unknown command", []string{"dance"}, 2, "", `unknown command "dance"`, false},
		{"version", []string{"version"}, 0, "hasidecar ", "", false},
		{"help", []string{"help"}, 0, "Usage:", "", false},
		{"validate ok", []string{"validate", "--config", good}, 0, "valid (1 instance, 0 checks)", "", false},
		{"validate out of range", []string{"validate", "--config", bad}, 1, "", "bad.hcl:6:23: error:", false},
		{"validate unknown key", []string{"validate", "--config", unknown}, 1, "", "unknown.hcl:11:1: error:", false},
		{"validate missing file", []string{"validate", "--config", "/nonexistent/h.hcl"}, 1, "", "/nonexistent/h.hcl", false},
		{"validate bad flag", []string{"validate", "--bogus"}, 2, "", "flag provided but not defined", false},
		{"validate extra argument", []string{"validate", "--config", good, "extra"}, 2, "", `unexpected argument "extra"`, false},
		{"status without daemon", []string{"status", "--config", noDaemon}, 1, "", "is the daemon running?", false},
		{"status of a bad config still looks for the daemon", []string{"status", "--config", bad}, 1, "", "/run/x.sock (is the daemon running?", false},
		{"status --socket", []string{"status", "--socket", filepath.Join(t.TempDir(), "none.sock")}, 1, "", "none.sock (is the daemon running?", false},
		{"maintenance without on or off", []string{"maintenance", "--socket", "/run/x.sock"}, 2, "", "say on or off", false},
		{"maintenance maybe", []string{"maintenance", "maybe"}, 2, "", "say on or off", false},
		{"validate warns of a missing interface", []string{"validate", "--config", noIface}, 0, "valid", `warning: interface "nosuch0" does not exist on this machine`, false},
		{"validate a cluster", []string{"validate", "--config", good, "--config", lb2}, 0, "agree as one cluster", "", false},
		{"validate a cluster with equal priorities", []string{"validate", "--config", good, "--config", good2}, 1, "", "n1 and n2 both have priority 150", false},
		{"validate JSON", []string{"validate", "--config", goodJSON}, 0, "valid (1 instance,", "", false},
		{"validate bad JSON", []string{"validate", "--config", badJSON}, 1, "", "bad.json:3:70: error: virtual_router_id = 300 is out of range", false},
		{"validate warns of a notify command that cannot run", []string{"validate", "--config", noNotify}, 0, "valid", `notify_master of vrrp_instance "VI_1" would not run: /nonexistent/page.sh: no such file or directory`, false},
		{"validate warns of no instance", []string{"validate", "--config", empty}, 0, "valid (0 instances", "warning: " + empty + ": no vrrp_instance", false},
		{"version with an argument", []string{"version", "extra"}, 2, "", `unexpected argument "extra"`, false},
		{"validate a directory", []string{"validate", "--config", "/tmp"}, 1, "", "hasidecar validate: cannot read /tmp: is a directory\n", false},
		{"validate a missing file", []string{"validate", "--config", "/nonexistent/h.hcl"}, 1, "", "hasidecar validate: cannot read /nonexistent/h.hcl: no such file or directory\n", false},
		{"status --socket of a plain file", []string{"status", "--socket", good}, 1, "", good + " is not a socket", false},
		{"genhash without url", []string{"genhash"}, 2, "", "--url must be", false},
		{"genhash bad scheme", []string{"genhash", "--url", "ftp://x/"}, 2, "", "--url must be", false},
	}
	for _, cmd := range []string{"run", "validate", "status", "reload", "maintenance", "genhash", "import"} {
		tests = append(tests, struct {
			name       string
			args       []string
			code       int
			stdout     string
			stderr     string
			noStdError bool
		}{cmd + " --help", []string{cmd, "--help"}, 0, "Usage: hasidecar " + cmd + " ", "", false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, tt.args...)
			if strings.HasSuffix(tt.name, " --help") {
				// Asked-for help: once, on stdout, in one layout.
				if errOut != "" || strings.Count(out, "Usage:") != 1 || !strings.Contains(out, "\n\nFlags:\n  -") {
					t.Errorf("help:\nstdout: %s\nstderr: %s", out, errOut)
				}
			}
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout %q does not contain %q", out, tt.stdout)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.stderr)
			}
			if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
				t.Errorf("a Go stack trace reached the user:\n%s", errOut)
			}
		})
	}
}

// statusDaemon answers status requests like a running daemon.
type statusDaemon struct{}

func (statusDaemon) Status() status.Status {
	return status.Status{NodeName: "n1",
		Instances: []status.InstanceStatus{{Name: "VI_1", State: "MASTER", Priority: 150, EffectivePriority: 150,
			VirtualRouterID: 51, Interface: "eth0", VirtualIPs: []string{"198.51.100.100/24"}, MasterAddress: "198.51.100.1", Transitions: 2}},
		Checks: []status.CheckStatus{}}
}
func (statusDaemon) Reload(context.Context, string) error { return nil }

func TestStatusOutput(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := control.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go control.Serve(ctx, l, statusDaemon{}, zap.NewNop())
	cfg := writeFile(t, "c.hcl", strings.ReplaceAll(validConfig, "%SOCK%", sock))

	code, out, errOut := cli(t, "status", "--config", cfg, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	inst := st["instances"].([]any)[0].(map[string]any)
	for _, key := range []string{"name", "state", "priority", "effective_priority", "virtual_router_id", "interface", "virtual_ips", "master_address", "transitions"} {
		if _, ok := inst[key]; !ok {
			t.Errorf("status --json lacks the contract's key %q", key)
		}
	}
	if _, ok := st["checks"]; !ok || st["node_name"] != "n1" {
		t.Errorf("status --json top level: %v", st)
	}

	code, out, _ = cli(t, "status", "--config", cfg)
	if code != 0 || !strings.Contains(out, "VI_1") || !strings.Contains(out, "MASTER") || !strings.Contains(out, "INSTANCE") {
		t.Fatalf("status table:\n%s", out)
	}

	code, out, _ = cli(t, "reload", "--config", cfg)
	if code != 0 || !strings.Contains(out, "reloaded") {
		t.Fatalf("reload: %d %s", code, out)
	}
}

func TestGenhash(t *testing.T) {
	body := "<html>healthy</html>\n"
	sum := md5.Sum([]byte(body))
	want := "HTTP 200 OK\nMD5SUM = " + hex.EncodeToString(sum[:]) + "\n"
	var gotHost string
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost = r.Host
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	})

	plain := httptest.NewServer(handler)
	defer plain.Close()
	code, out, errOut := cli(t, "genhash", "--url", plain.URL+"/healthz", "--host", "www.example.org")
	if code != 0 || out != want {
		t.Fatalf("genhash: exit %d, %q, %s; want %q", code, out, errOut, want)
	}
	if gotHost != "www.example.org" {
		t.Errorf("Host header %q, want the --host value", gotHost)
	}

	// An error page's digest is a trap: the status says so and exits 1,
	// unless asked for.
	code, out, errOut = cli(t, "genhash", "--url", plain.URL+"/missing")
	if code != 1 || out != "HTTP 404 Not Found\n" || !strings.Contains(errOut, "answered HTTP 404 Not Found") || !strings.Contains(errOut, "--any-status") {
		t.Errorf("genhash of a 404: exit %d, %q, %s", code, out, errOut)
	}
	sum404 := md5.Sum([]byte("404 page not found\n"))
	code, out, errOut = cli(t, "genhash", "--url", plain.URL+"/missing", "--any-status")
	if code != 0 || out != "HTTP 404 Not Found\nMD5SUM = "+hex.EncodeToString(sum404[:])+"\n" {
		t.Errorf("genhash --any-status of a 404: exit %d, %q, %s", code, out, errOut)
	}

	tlsSrv := httptest.NewTLSServer(handler)
	defer tlsSrv.Close()
	if code, _, errOut := cli(t, "genhash", "--url", tlsSrv.URL); code != 1 || !strings.Contains(errOut, "certificate") {
		t.Errorf("genhash must refuse an unverified certificate: exit %d, %s", code, errOut)
	}
	if code, out, errOut := cli(t, "genhash", "--url", tlsSrv.URL, "--insecure"); code != 0 || out != want {
		t.Errorf("genhash --insecure: exit %d, %q, %s", code, out, errOut)
	}
}
