package kaimport

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/kaconf"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakePath stands for the node's PATH.
func fakePath(name string) (string, error) {
	switch name {
	case "killall", "pidof":
		return "/usr/bin/" + name, nil
	}
	return "", errors.New("not found")
}

// TestGolden imports each testdata/*.conf as node lb1 and compares the
// HCL with NAME.hcl and the report with NAME.notes (-update rewrites them);
// the HCL must validate.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.conf")
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := Convert(f, Options{NodeID: "lb1", Files: kaconf.OSFiles{}, LookPath: fakePath})
			var notes strings.Builder
			for _, n := range res.Notes {
				notes.WriteString(n.String())
				if n.Failover {
					notes.WriteString(" [failover]")
				}
				notes.WriteString("\n")
			}
			base := strings.TrimSuffix(f, ".conf")
			golden(t, base+".hcl", string(res.HCL))
			golden(t, base+".notes", notes.String())
			if _, diags := config.ParseWith(res.HCL, "imported.hcl", testHost); diags.HasErrors() {
				t.Fatalf("output does not validate: %v", diags)
			}
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// TestFailoverLost: a file whose failover behaviour is fully carried over
// reports no failover loss; one whose sync group names a missing member does.
func TestFailoverLost(t *testing.T) {
	for _, tc := range []struct {
		src  string
		lost bool
	}{
		{"vrrp_instance V { interface eth0\nvirtual_router_id 1\nvirtual_ipaddress { 198.51.100.10 }\n}\n", false},
		{"global_defs { smtp_server 192.0.2.1 }\nvrrp_instance V { interface eth0\nvirtual_router_id 1\nvirtual_ipaddress { 198.51.100.10 }\n}\n", false},
		{"vrrp_sync_group G { group { V } }\nvrrp_instance V { interface eth0\nvirtual_router_id 1\nvirtual_ipaddress { 198.51.100.10 }\n}\n", false},
		{"vrrp_sync_group G { group { V W } }\nvrrp_instance V { interface eth0\nvirtual_router_id 1\nvirtual_ipaddress { 198.51.100.10 }\n}\n", true},
		{"vrrp_instance V { interface eth0\nvirtual_router_id 1\n}\n", true},
		{"vrrp_instance V { interface eth0\nvirtual_router_id 1\nvirtual_ipaddress { 198.51.100.10 }\ntrack_script { nope }\n}\n", true},
	} {
		files := memFiles{"/k.conf": tc.src}
		res := Convert("/k.conf", Options{Files: files})
		if res.FailoverLost() != tc.lost {
			t.Errorf("%q: FailoverLost = %v, want %v (%v)", tc.src, res.FailoverLost(), tc.lost, res.Notes)
		}
		if _, diags := config.ParseWith(res.HCL, "imported.hcl", testHost); diags.HasErrors() {
			t.Errorf("%q: output does not validate: %v\n%s", tc.src, diags, res.HCL)
		}
	}
}

// memFiles is an in-memory file system.
type memFiles map[string]string

func (m memFiles) ReadFile(name string) ([]byte, error) {
	s, ok := m[name]
	if !ok {
		return nil, os.ErrNotExist
	}
	return []byte(s), nil
}

func (m memFiles) Glob(pattern string) ([]string, error) {
	var out []string
	for name := range m {
		if ok, _ := filepath.Match(pattern, name); ok {
			out = append(out, name)
		}
	}
	return out, nil
}

// FuzzConvert: no keepalived.conf makes the import panic, and what it
// emits is always HCL the configuration loader reads without a syntax error.
func FuzzConvert(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.conf")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, src string) {
		res := Convert("/etc/keepalived/keepalived.conf", Options{NodeID: "lb1", Files: memFiles{"/etc/keepalived/keepalived.conf": src}, LookPath: fakePath})
		_, diags := config.ParseWith(res.HCL, "imported.hcl", testHost)
		for _, d := range diags {
			if d.Summary == "Invalid character" || strings.Contains(d.Summary, "Unterminated") || strings.Contains(d.Summary, "Invalid escape") {
				t.Fatalf("emitted broken HCL: %v\n%s", diags, res.HCL)
			}
		}
	})
}

// TestNoConditionalMatches: a file written for nodes lb1 and lb2, imported
// on a host whose id is neither, says so at the first @ line.
func TestNoConditionalMatches(t *testing.T) {
	src := "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n@lb1 priority 150\n@lb2 priority 100\n virtual_ipaddress { 198.51.100.10 }\n}\n"
	for _, tc := range []struct {
		id   string
		note bool
	}{{"lb1", false}, {"lb2", false}, {"vm", true}, {"", true}} {
		res := Convert("/k.conf", Options{NodeID: tc.id, Files: memFiles{"/k.conf": src}})
		var found *Note
		for i, n := range res.Notes {
			if strings.Contains(n.Msg, "matches none of the file's conditional ids (@lb1, @lb2)") {
				found = &res.Notes[i]
			}
		}
		if (found != nil) != tc.note {
			t.Errorf("node id %q: note %v, want %v (%v)", tc.id, found, tc.note, res.Notes)
			continue
		}
		if found != nil && (found.Pos.Line != 4 || !found.Failover || !res.FailoverLost()) {
			t.Errorf("node id %q: %+v; want line 4, affecting failover", tc.id, *found)
		}
	}
}
