package control

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/zap"
)

// warningDaemon reloads with warnings.
type warningDaemon struct{ fakeDaemon }

func (w *warningDaemon) ReloadWithWarnings(ctx context.Context, path string) ([]string, error) {
	return []string{"instance VI_1: virtual_ips changed", "log_level or log_format changed"}, w.Reload(ctx, path)
}

func TestReloadReplyCarriesWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &warningDaemon{}
	done := make(chan error)
	go func() { done <- Serve(ctx, l, d, zap.NewNop()) }()
	t.Cleanup(func() { cancel(); <-done })

	resp, err := Call(context.Background(), path, Request{Command: "reload"})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.OK || !slices.Equal(resp.Warnings, []string{"instance VI_1: virtual_ips changed", "log_level or log_format changed"}) {
		t.Errorf("reload answered %+v", resp)
	}
	// A daemon without warnings answers as before: no warnings key.
	plain, _ := serve(t)
	if resp, err := Call(context.Background(), plain, Request{Command: "reload"}); err != nil || !resp.OK || resp.Warnings != nil {
		t.Errorf("plain reload answered %+v, %v", resp, err)
	}
}
