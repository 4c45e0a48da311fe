package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/control"
)

type warnDaemon struct{ statusDaemon }

func (warnDaemon) ReloadWithWarnings(context.Context, string) ([]string, error) {
	return []string{"instance VI_1: virtual_ips changed; reload the other nodes now"}, nil
}

// TestReloadPrintsTheDaemonsWarnings: what the daemon warns of after a
// reload reaches the operator, after the line that says it reloaded.
func TestReloadPrintsTheDaemonsWarnings(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := control.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go control.Serve(ctx, l, warnDaemon{}, zap.NewNop())

	code, out, errOut := cli(t, "reload", "--socket", sock)
	if code != 0 || !strings.HasPrefix(out, "reloaded") {
		t.Fatalf("reload: exit %d\n%s%s", code, out, errOut)
	}
	if want := "warning: instance VI_1: virtual_ips changed; reload the other nodes now\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
}
