package kaimport

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/kaconf"
)

const samples = "/usr/share/doc/keepalived/samples"

// testHost is what the imported files are validated with: fixed defaults,
// so the test does not depend on the machine's name.
var testHost = config.HostDefaults{NodeName: "lb1", PluginDir: "/usr/lib/hasidecar/plugins"}

// TestCorpus imports every keepalived sample with a vrrp_instance: each
// imports, every keyword not carried over is reported at a line, and the
// output is a valid hasidecar configuration.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(samples, "keepalived.conf.*"))
	if len(files) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no keepalived samples in %s: CI installs keepalived", samples)
		}
		t.Skipf("no keepalived samples in %s (apt-get install keepalived)", samples)
	}
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(src), "vrrp_instance") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := Convert(f, Options{NodeID: "high", Files: kaconf.OSFiles{}, LookPath: exec.LookPath})
			for _, note := range res.Notes {
				if note.Pos.Line == 0 || note.Keyword == "" || note.Msg == "" {
					t.Errorf("note without a line or keyword: %+v", note)
				}
				t.Logf("%s", note)
			}
			checkReported(t, f, res)
			if _, diags := config.ParseWith(res.HCL, "imported.hcl", testHost); diags.HasErrors() {
				t.Fatalf("output does not validate: %v\n%s", diags, res.HCL)
			}
		})
	}
	if n < 10 {
		t.Errorf("only %d samples with a vrrp_instance; expected Debian's 12", n)
	}
}

// checkReported makes sure every keyword of a vrrp block either reaches the
// output or is noted at its line.
func checkReported(t *testing.T, file string, res *Result) {
	t.Helper()
	stmts, _ := kaconf.Parse(file, kaconf.Options{NodeID: "high", Files: kaconf.OSFiles{}})
	noted := map[int]bool{}
	for _, n := range res.Notes {
		noted[n.Pos.Line] = true
	}
	// Keywords whose meaning the output carries.
	carried := map[string]bool{
		"state": true, "interface": true, "virtual_router_id": true, "priority": true, "advert_int": true,
		"version": true, "virtual_ipaddress": true, "virtual_ipaddress_excluded": true, "track_interface": true, "use_vmac": true, "vmac_xmit_base": true,
		"track_script": true, "authentication": true, "unicast_peer": true, "unicast_src_ip": true, "mcast_src_ip": true,
		"nopreempt": true, "preempt": true, "preempt_delay": true, "accept": true,
		"notify": true, "notify_master": true, "notify_backup": true, "notify_fault": true, "notify_stop": true,
		"garp_master_delay": true, "garp_master_repeat": true,
	}
	for _, st := range stmts {
		switch st.Keyword() {
		case "vrrp_instance":
			for _, s := range st.Block {
				if !carried[s.Keyword()] && !noted[s.Pos.Line] {
					t.Errorf("%s: %s is neither imported nor reported", s.Pos, s.Keyword())
				}
			}
		case "vrrp_script", "global_defs", "vrrp_sync_group":
		default:
			if !noted[st.Pos.Line] {
				t.Errorf("%s: %s is neither imported nor reported", st.Pos, st.Keyword())
			}
		}
	}
}
