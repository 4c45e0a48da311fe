package control

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/status"
)

type fakeDaemon struct {
	reloads  []string // the paths Reload was called with
	reject   bool
	maintOn  bool
	maintFor string
}

func (f *fakeDaemon) Status() status.Status {
	return status.Status{NodeName: "n1", Instances: []status.InstanceStatus{{Name: "VI_1", State: "MASTER"}}}
}

func (f *fakeDaemon) Reload(_ context.Context, path string) error {
	f.reloads = append(f.reloads, path)
	if f.reject {
		return errors.New("bad.hcl:3:5: unknown key")
	}
	return nil
}

func (f *fakeDaemon) Maintenance(_ context.Context, inst string, on bool, reason string) (string, error) {
	if inst == "nope" {
		return "", errors.New(`no instance "nope"`)
	}
	f.maintOn, f.maintFor = on, inst
	return "done", nil
}

func serve(t *testing.T) (string, *fakeDaemon) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "c.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &fakeDaemon{}
	done := make(chan error)
	go func() { done <- Serve(ctx, l, d, zap.NewNop()) }()
	t.Cleanup(func() { cancel(); <-done })
	return path, d
}

func TestRequests(t *testing.T) {
	path, d := serve(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		req     Request
		wantOK  bool
		wantErr string
	}{
		{"status", Request{Command: "status"}, true, ""},
		{"reload ok", Request{Command: "reload"}, true, ""},
		{"maintenance on", Request{Command: "maintenance", On: true, Instance: "VI_1"}, true, ""},
		{"maintenance of no instance", Request{Command: "maintenance", On: true, Instance: "nope"}, false, `no instance "nope"`},
		{"unknown command", Request{Command: "dance"}, false, `unknown command "dance"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := Call(ctx, path, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.OK != tt.wantOK || resp.Error != tt.wantErr {
				t.Fatalf("got %+v", resp)
			}
		})
	}
	if len(d.reloads) != 1 || d.reloads[0] != "" {
		t.Errorf("reload not delivered as a reload of the daemon's own file: %q", d.reloads)
	}
	if !d.maintOn || d.maintFor != "VI_1" {
		t.Errorf("maintenance not delivered: %+v", d)
	}
	d.reject = true
	if resp, _ := Call(ctx, path, Request{Command: "reload"}); resp.OK || resp.Error != "bad.hcl:3:5: unknown key" {
		t.Errorf("a rejected reload answered %+v", resp)
	}
	resp, _ := Call(ctx, path, Request{Command: "status"})
	if resp.Status == nil || resp.Status.Instances[0].State != "MASTER" {
		t.Fatalf("status not returned: %+v", resp)
	}
}

func TestMalformedRequestIsAnswered(t *testing.T) {
	path, _ := serve(t)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("{not json\n"))
	buf := make([]byte, 512)
	n, _ := c.Read(buf)
	if got := string(buf[:n]); !strings.Contains(got, "malformed request") {
		t.Fatalf("answer %q", got)
	}
}

func TestListenRefusesALiveSocket(t *testing.T) {
	path, _ := serve(t)
	if _, err := Listen(path); err == nil {
		t.Fatal("a second daemon took over a live control socket")
	}
}

func TestCallWithoutDaemon(t *testing.T) {
	_, err := Call(context.Background(), filepath.Join(t.TempDir(), "none.sock"), Request{Command: "status"})
	if !errors.Is(err, ErrNotRunning) {
		t.Fatalf("err = %v, want ErrNotRunning", err)
	}
}

// TestReloadIgnoresAClientPath sends what an older client sent: a path to
// load. The daemon must reload its own file, never one a client names.
func TestReloadIgnoresAClientPath(t *testing.T) {
	path, d := serve(t)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(`{"command":"reload","config":"/tmp/evil.hcl"}` + "\n"))
	buf := make([]byte, 512)
	n, _ := c.Read(buf)
	if !strings.Contains(string(buf[:n]), `"ok":true`) || len(d.reloads) != 1 || d.reloads[0] != "" {
		t.Fatalf("answer %q, reloads %q", buf[:n], d.reloads)
	}
}
