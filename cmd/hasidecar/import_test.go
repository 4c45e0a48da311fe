package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hasidecar/hasidecar/host/config"
)

const importedSite = `global_defs {
    router_id lb-1
    smtp_server 192.0.2.25
}
vrrp_script chk_nginx {
    script "/bin/true"
    interval 1
    weight -60
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress { 198.51.100.10/24 }
    track_script { chk_nginx }
    notify_master "/bin/logger master"
}
`

var noteLine = regexp.MustCompile(`^[^ :]+:\d+: [a-z_]+: .+$`)

func TestImport(t *testing.T) {
	conf := writeFile(t, "keepalived.conf", importedSite)
	code, stdout, stderr := cli(t, "import", "--node-id", "lb1", conf)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if _, diags := config.ParseWith([]byte(stdout), "out.hcl", config.HostDefaults{NodeName: "x", PluginDir: "/"}); diags.HasErrors() {
		t.Fatalf("output does not validate: %v\n%s", diags, stdout)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 2 {
		t.Errorf("want 2 report lines (smtp_server, state), got:\n%s", stderr)
	}
	for _, l := range lines {
		if !noteLine.MatchString(l) || !strings.HasPrefix(l, conf+":") {
			t.Errorf("report line not FILE:LINE: KEYWORD: why: %q", l)
		}
	}
	if !strings.Contains(stderr, conf+":3: smtp_server: ") {
		t.Errorf("smtp_server not reported at line 3:\n%s", stderr)
	}

	// -o writes the file, readable by root only; flags may follow the file.
	out := filepath.Join(t.TempDir(), "hasidecar.hcl")
	if code, _, stderr := cli(t, "import", conf, "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("output file: %v %v", st, err)
	}
	if _, diags := config.Load(out); diags.HasErrors() {
		t.Fatalf("written file does not load: %v", diags)
	}

	// -o does not replace a file that is there, unless --force.
	before, _ := os.ReadFile(out)
	os.WriteFile(out, []byte("# mine\n"), 0o600)
	if code, _, stderr := cli(t, "import", conf, "-o", out); code != 1 || !strings.Contains(stderr, out+" already exists; pass --force to replace it") {
		t.Errorf("-o over a file: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "# mine\n" {
		t.Errorf("-o replaced a file without --force")
	}
	if code, _, stderr := cli(t, "import", conf, "-o", out, "--force"); code != 0 {
		t.Errorf("-o --force: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != string(before) {
		t.Errorf("-o --force did not replace the file")
	}

	// -o x.json writes HCL's JSON syntax, which loads to the same instances.
	outJSON := filepath.Join(t.TempDir(), "hasidecar.json")
	if code, _, stderr := cli(t, "import", "-o", outJSON, conf); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(outJSON)
	if !json.Valid(b) {
		t.Fatalf("-o x.json wrote no JSON:\n%s", b)
	}
	fromHCL, _ := config.Load(out)
	fromJSON, diags := config.Load(outJSON)
	if diags.HasErrors() {
		t.Fatalf("written JSON does not load: %v", diags)
	}
	if len(fromJSON.Instances) != len(fromHCL.Instances) || fromJSON.Instances[0].Priority != fromHCL.Instances[0].Priority ||
		fromJSON.Instances[0].AuthPass != fromHCL.Instances[0].AuthPass || len(fromJSON.Checks) != len(fromHCL.Checks) {
		t.Fatalf("JSON and HCL imports differ:\n%+v\n%+v", fromJSON.Instances, fromHCL.Instances)
	}
}

func TestImportExitCodes(t *testing.T) {
	// use_vmac is carried over since IPv6 and the virtual MAC came in;
	// dont_track_primary is not, and it affects failover.
	lost := writeFile(t, "keepalived.conf", strings.Replace(importedSite, "state MASTER", "dont_track_primary", 1))
	if code, _, stderr := cli(t, "import", lost); code != 1 || !strings.Contains(stderr, "dont_track_primary: ") || !strings.Contains(stderr, "[affects failover]") {
		t.Errorf("failover lost: exit %d, want 1:\n%s", code, stderr)
	}
	if code, _, _ := cli(t, "import", "/nonexistent/keepalived.conf"); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
	for _, args := range [][]string{{"import"}, {"import", "a", "b"}, {"import", "--bogus", "a"}, {"import", "-o"}} {
		if code, _, _ := cli(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	code, stdout, _ := cli(t, "import", "--help")
	if code != 0 || !strings.Contains(stdout, "-node-id") || !strings.Contains(stdout, "-o string") || !strings.Contains(stdout, "Exit status") {
		t.Errorf("--help: exit %d:\n%s", code, stdout)
	}
}

// TestImportNothing: a keepalived.conf with no vrrp_instance (LVS only)
// imports to nothing, which is an error rather than an empty file.
func TestImportNothing(t *testing.T) {
	conf := writeFile(t, "keepalived.conf", "virtual_server 198.51.100.10 80 {\n    lb_algo rr\n}\n")
	out := filepath.Join(t.TempDir(), "hasidecar.hcl")
	code, stdout, stderr := cli(t, "import", "-o", out, conf)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "no vrrp_instance to import in "+conf) || !strings.Contains(stderr, "virtual_server: LVS") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("an empty configuration was written")
	}
	// keepalived's own sample of that kind.
	const sample = "/usr/share/doc/keepalived/samples/keepalived.conf.IPv6"
	if _, err := os.Stat(sample); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (CI installs keepalived)", sample, err)
		}
		t.Skipf("%s: %v", sample, err)
	}
	if code, _, stderr := cli(t, "import", sample); code != 1 || !strings.Contains(stderr, "no vrrp_instance to import") {
		t.Errorf("%s: exit %d\n%s", sample, code, stderr)
	}
}
