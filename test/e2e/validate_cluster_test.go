package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runBinary runs the built binary and returns its exit status and output.
func runBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runCmd(t, exec.Command(binary, args...))
}

// TestValidateClusterVRIDs is a user's pair: node 2 was given VRID 52 for
// node 1's VIP on VRID 51, and named its interface ens3. validate must
// refuse the pair (two routers would each own the address), match the
// instances whatever the interface names, and refuse a file given twice.
func TestValidateClusterVRIDs(t *testing.T) {
	dir := t.TempDir()
	node := func(name, iface string, vrid, priority int) string {
		p := filepath.Join(dir, name+".hcl")
		src := "node_name = \"" + name + "\"\nvrrp_instance \"VI_1\" {\n  interface         = \"" + iface + "\"\n  virtual_router_id = " +
			strconv.Itoa(vrid) + "\n  priority          = " + strconv.Itoa(priority) + "\n  virtual_ips       = [\"198.51.100.100/24\"]\n}\n"
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lb1 := node("lb-1", "eth0", 51, 150)
	lb2 := node("lb-2", "ens3", 52, 100)
	code, out := runBinary(t, "validate", "--config", lb1, "--config", lb2)
	if code != 1 || !strings.Contains(out, "198.51.100.100 is a virtual address of VRID 51 in lb-1 (VI_1, "+lb1+":2) but of VRID 52 in lb-2 (VI_1, "+lb2+":2)") ||
		strings.Contains(out, "agree as one cluster") {
		t.Errorf("VIP under two VRIDs: exit %d\n%s", code, out)
	}
	lb2 = node("lb-2", "ens3", 51, 100)
	if code, out := runBinary(t, "validate", "--config", lb1, "--config", lb2); code != 0 || !strings.Contains(out, "the 2 files agree as one cluster") || strings.Contains(out, "warning") {
		t.Errorf("eth0 and ens3 on one VRID: exit %d\n%s", code, out)
	}
	if code, out := runBinary(t, "validate", "--config", lb1, "--config", lb1); code != 1 || !strings.Contains(out, lb1+" is given twice") || strings.Contains(out, "both have priority") {
		t.Errorf("one file twice: exit %d\n%s", code, out)
	}
}

// TestImportLocalcheckSample imports keepalived's own sample whose checks
// are shell redirections; the result must pass validate with the real
// script plugin.
func TestImportLocalcheckSample(t *testing.T) {
	const sample = "/usr/share/doc/keepalived/samples/keepalived.conf.vrrp.localcheck"
	if _, err := os.Stat(sample); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (CI installs keepalived)", sample, err)
		}
		t.Skipf("%s: %v", sample, err)
	}
	out := filepath.Join(t.TempDir(), "hasidecar.hcl")
	code, report := runBinary(t, "import", "--node-id", "high", "-o", out, sample)
	if code != 1 || !strings.Contains(report, `script: shell syntax, run as ["/bin/bash", "-c", …]`) {
		t.Fatalf("import: exit %d (want 1: track_interface weights are not carried over)\n%s", code, report)
	}
	if code, msg := runBinary(t, "validate", "--config", out); code != 0 {
		hcl, _ := os.ReadFile(out)
		t.Fatalf("validate of the import: exit %d\n%s\n%s", code, msg, hcl)
	}
	if code, msg := runBinary(t, "import", "--node-id", "high", "-o", out, sample); code != 1 || !strings.Contains(msg, "already exists; pass --force") {
		t.Errorf("import over the file: exit %d\n%s", code, msg)
	}
}
