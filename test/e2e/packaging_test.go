package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit we ship,
// with the binary it names replaced by the one built for the tests.
func TestSystemdUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze not found (package systemd) under CI=true")
		}
		t.Skip("systemd-analyze not found")
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "packaging", "hasidecar.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(b), "/usr/bin/hasidecar", binary)
	for _, want := range []string{"Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID", "CAP_NET_ADMIN", "CAP_NET_RAW", "StateDirectory=hasidecar"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	path := filepath.Join(t.TempDir(), "hasidecar.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	// verify also complains about unrelated units of the machine it runs on;
	// only lines about ours count.
	var ours []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "hasidecar.service") {
			ours = append(ours, line)
		}
	}
	if len(ours) > 0 || (err != nil && len(out) == 0) {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDebianPackage builds the .deb with `make package`, checks its layout
// and metadata with dpkg-deb, extracts it into a throwaway root and runs the
// packaged binary and plugins on the packaged example configuration.
func TestDebianPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dpkg-deb not found under CI=true")
		}
		t.Skip("dpkg-deb not found: not a Debian machine")
	}
	repo, _ := filepath.Abs(filepath.Join("..", ".."))
	dist := t.TempDir()
	make := exec.Command("make", "-C", repo, "package", "PKG_VERSION=0.0.0+test")
	if out, err := make.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	deb := filepath.Join(repo, "dist", "hasidecar_0.0.0+test_amd64.deb")
	t.Cleanup(func() { os.Remove(deb) })

	out, err := exec.Command("dpkg-deb", "-c", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v\n%s", err, out)
	}
	for _, want := range []string{
		"-rwxr-xr-x root/root", "./usr/bin/hasidecar",
		"./usr/lib/hasidecar/plugins/hasidecar-plugin-httpget -> ../../../bin/hasidecar",
		"./usr/lib/hasidecar/plugins/hasidecar-plugin-tcp -> ../../../bin/hasidecar",
		"./usr/lib/hasidecar/plugins/hasidecar-plugin-icmp -> ../../../bin/hasidecar",
		"./usr/lib/hasidecar/plugins/hasidecar-plugin-script -> ../../../bin/hasidecar",
		"./lib/systemd/system/hasidecar.service", "-rw-r----- root/root", "./etc/hasidecar/hasidecar.hcl",
		"./usr/share/doc/hasidecar/README.md", "./usr/share/doc/hasidecar/copyright",
		"./usr/share/doc/hasidecar/configuration.md", "./usr/share/doc/hasidecar/from-keepalived.md",
		"./usr/share/hasidecar/grafana-dashboard.json",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("package lacks %s:\n%s", want, out)
		}
	}
	for field, want := range map[string]string{"Package": "hasidecar", "Version": "0.0.0+test", "Architecture": "amd64"} {
		got, err := exec.Command("dpkg-deb", "-f", deb, field).Output()
		if err != nil || strings.TrimSpace(string(got)) != want {
			t.Errorf("%s = %q (%v), want %q", field, got, err, want)
		}
	}
	if got, _ := exec.Command("dpkg-deb", "-I", deb, "conffiles").Output(); strings.TrimSpace(string(got)) != "/etc/hasidecar/hasidecar.hcl" {
		t.Errorf("conffiles = %q: the example config must survive upgrades", got)
	}

	root := filepath.Join(dist, "root")
	if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	if out, err := exec.Command(filepath.Join(root, "usr/bin/hasidecar"), "version").CombinedOutput(); err != nil {
		t.Fatalf("packaged binary: %v\n%s", err, out)
	} else if strings.TrimSpace(string(out)) != "hasidecar 0.0.0+test" {
		t.Errorf("packaged binary says %q, want the package's version 0.0.0+test", out)
	}
	conf, _ := os.ReadFile(filepath.Join(root, "etc/hasidecar/hasidecar.hcl"))
	rooted := strings.ReplaceAll(string(conf), `"/usr/lib/hasidecar/plugins"`, `"`+filepath.Join(root, "usr/lib/hasidecar/plugins")+`"`)
	cfgPath := filepath.Join(dist, "hasidecar.hcl")
	os.WriteFile(cfgPath, []byte(rooted), 0o644)
	if out, err := exec.Command(filepath.Join(root, "usr/bin/hasidecar"), "validate", "--config", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("the packaged example config with the packaged plugins: %v\n%s", err, out)
	}
}

// TestSystemdNotifications runs the daemon with a notify socket, as systemd
// would, and reads what it says: READY=1 once running, RELOADING=1 then
// READY=1 around a reload, STOPPING=1 on SIGTERM.
func TestSystemdNotifications(t *testing.T) {
	netlab.RequireRoot(t)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", sock) // inherited by the daemon
	lab := netlab.New(t, 1)
	d := startHasidecar(t, lab, lab.Nodes[0], nodeConfig{Priority: 150, Preempt: true})

	next := func(want string) {
		t.Helper()
		buf := make([]byte, 256)
		l.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			n, _, err := l.ReadFromUnix(buf)
			if err != nil {
				t.Fatalf("waiting for %s: %v", want, err)
			}
			if got := string(buf[:n]); got == want {
				return
			} else if !strings.HasPrefix(got, "WATCHDOG") {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	}
	next("READY=1")
	if code, out := d.reload(t); code != 0 {
		t.Fatalf("reload: %d %s", code, out)
	}
	next("RELOADING=1")
	next("READY=1")
	d.proc.Signal(syscall.SIGTERM)
	next("STOPPING=1")
}
