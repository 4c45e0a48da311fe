package execsafe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (chown) under CI=true")
		}
		t.Skip("needs root to chown test files")
	}
	// A root-owned 0755 directory of our own, below the sticky /tmp.
	base, err := os.MkdirTemp("", "execsafe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	mk := func(rel string, mode os.FileMode, uid int) string {
		p := filepath.Join(base, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		os.Chown(p, uid, 0)
		return p
	}
	good := mk("ok/script", 0o755, 0)
	groupW := mk("gw/script", 0o775, 0)
	worldW := mk("ww/script", 0o757, 0)
	notRoot := mk("nr/script", 0o755, 65534)
	inOpenDir := mk("open/script", 0o755, 0)
	os.Chmod(filepath.Dir(inOpenDir), 0o777)
	link := filepath.Join(base, "ok", "link")
	os.Symlink(worldW, link)

	tests := []struct {
		name, path, want string
	}{
		{"root-owned, not writable", good, ""},
		{"group-writable file", groupW, "writable by its group"},
		{"world-writable file", worldW, "writable by everyone"},
		{"not owned by root", notRoot, "owned by uid 65534, not root"},
		{"in a world-writable directory", inOpenDir, filepath.Dir(inOpenDir) + " is writable by everyone"},
		{"a symlink to an unsafe file", link, "writable by everyone"},
		{"relative path", "script", "not an absolute path"},
		{"missing", filepath.Join(base, "none"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.path)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
