package control

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
)

type fakeDaemon struct{ reloaded string }

func (f *fakeDaemon) Status() Status {
	return Status{NodeName: "n1", Instances: []InstanceStatus{{Name: "VI_1", State: "MASTER"}}}
}

func (f *fakeDaemon) Reload(_ context.Context, path string) error {
	if path == "bad.hcl" {
		return errors.New("bad.hcl:3:5: unknown key")
	}
	f.reloaded = path
	return nil
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
		{"reload ok", Request{Command: "reload", Config: "good.hcl"}, true, ""},
		{"reload rejected", Request{Command: "reload", Config: "bad.hcl"}, false, "bad.hcl:3:5: unknown key"},
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
	if d.reloaded != "good.hcl" {
		t.Errorf("reload not delivered: %q", d.reloaded)
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
