package e2e

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// These tests run node A on `hasidecar import` of its keepalived.conf and
// node B on keepalived with its own, as a site replacing one node would,
// and check that the pair elects, fails over and returns as two keepalived
// nodes with those files do. nginx is real; its check is the usual
// vrrp_script connecting to port 80.

const nginxScript = `"/usr/bin/bash -c '</dev/tcp/127.0.0.1/80'"`

// startImported imports conf on n with --node-id id, expects exit status
// wantExit, gives the daemon a private control socket and runs it.
func startImported(t *testing.T, n *netlab.Node, conf, id string, wantExit int) *daemon {
	t.Helper()
	dir := t.TempDir()
	kc := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(kc, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "hasidecar.hcl")
	cmd := exec.Command(binary, "import", "--node-id", id, "-o", out, kc)
	report, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("hasidecar import report (exit %d):\n%s", code, report)
	if code != wantExit {
		t.Fatalf("hasidecar import exited %d, want %d", code, wantExit)
	}
	sock := filepath.Join(dir, "hasidecar.sock")
	f, err := os.OpenFile(out, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\ncontrol { socket = %q }\nlog_level = \"debug\"\n", sock)
	f.Close()
	if b, err := exec.Command(binary, "validate", "--config", out).CombinedOutput(); err != nil {
		t.Fatalf("hasidecar validate: %v\n%s", err, b)
	}
	d := &daemon{node: n, config: out, socket: sock}
	d.proc = n.Start(t, binary, "run", "--config", out)
	t.Cleanup(func() {
		if t.Failed() {
			hcl, _ := os.ReadFile(out)
			t.Logf("imported configuration of %s:\n%s\nhasidecar log:\n%s", n.Name, hcl, d.proc.Log())
		}
	})
	return d
}

// startKeepalivedFile runs keepalived on n with conf and config id id.
func startKeepalivedFile(t *testing.T, n *netlab.Node, conf, id string) *netlab.Process {
	t.Helper()
	p := n.StartKeepalivedFile(t, conf, id)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keepalived log of %s:\n%s", n.Name, p.Log())
		}
	})
	return p
}

// holderOf waits until addr is on want alone, or on no node when want is nil.
func holderOf(t *testing.T, lab *netlab.Lab, addr netip.Addr, want *netlab.Node, timeout time.Duration) {
	t.Helper()
	var last []string
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		last = last[:0]
		for _, n := range lab.Nodes {
			if n.HasAddressOn(t, netlab.IfaceFor(addr), addr) {
				last = append(last, n.Name)
			}
		}
		if len(last) == 1 && last[0] == want.Name {
			return
		}
	}
	t.Fatalf("after %v %s is on %v, want only on %s", timeout, addr, last, want.Name)
}

// staysOn checks for d that addr stays on want alone.
func staysOn(t *testing.T, lab *netlab.Lab, addr netip.Addr, want *netlab.Node, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		for _, n := range lab.Nodes {
			if n.HasAddressOn(t, netlab.IfaceFor(addr), addr) != (n == want) {
				t.Fatalf("%s: on %s = %v, want it on %s alone", addr, n.Name, !(n == want), want.Name)
			}
		}
	}
}

// TestImportWeightedNginxUnicastNotify: a weighted vrrp_script on nginx,
// unicast peers, a long auth_pass (keepalived uses 8 characters) and
// notify_master; A (imported, 150) is master, loses it when its nginx
// dies and when it leaves the network, and takes it back each time.
func TestImportWeightedNginxUnicastNotify(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	netlab.RequireNginx(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	notified := filepath.Join(t.TempDir(), "notified")
	conf := func(self, peer *netlab.Node, state string, prio int, notified string) string {
		return fmt.Sprintf(`! an nginx pair, as a site writes it
global_defs {
    router_id %[1]s
    script_user root
    enable_script_security
}

vrrp_script chk_nginx {
    script %[2]s
    interval 1
    timeout 1
    fall 1
    rise 1
    weight -60
}

vrrp_instance VI_1 {
    state %[3]s
    interface %[4]s
    virtual_router_id 61
    priority %[5]d
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass longer-than-8
    }
    unicast_src_ip %[6]s
    unicast_peer {
        %[7]s
    }
    virtual_ipaddress {
        %[8]s
    }
    track_script {
        chk_nginx
    }
    notify_master "/usr/bin/bash -c 'echo master >> %[9]s'"
}
`, self.Name, nginxScript, state, self.Iface, prio, self.Addr, peer.Addr, vip, notified)
	}
	nginxA := a.StartNginx(t)
	b.StartNginx(t)
	startKeepalivedFile(t, b, conf(b, a, "BACKUP", 100, notified+".b"), "")
	startImported(t, a, conf(a, b, "MASTER", 150, notified), "a", 0)

	holderOf(t, lab, vip.Addr(), a, 15*time.Second)
	nginxA.Kill(t) // 150 - 60 = 90 < 100
	holderOf(t, lab, vip.Addr(), b, 15*time.Second)
	nginxA.Restart(t)
	holderOf(t, lab, vip.Addr(), a, 15*time.Second)
	lab.PortDown(t, a) // node loss
	holderOf(t, lab, vip.Addr(), b, 15*time.Second)
	lab.PortUp(t, a)
	holderOf(t, lab, vip.Addr(), a, 15*time.Second)
	staysOn(t, lab, vip.Addr(), a, 3*time.Second)

	got, _ := os.ReadFile(notified)
	if strings.Count(string(got), "master\n") != 3 {
		t.Errorf("notify_master ran %d times, want 3 (start, after nginx, after the link):\n%s", strings.Count(string(got), "master\n"), got)
	}
}

// TestImportSharedFileNopreempt: one file for both nodes, chosen by @lb1 /
// @lb2 lines and $definitions; VRRPv3 at 0.5 s, nopreempt, and a vrrp_script
// without weight (a failure is FAULT). B (keepalived, 100) is master
// first and A (imported, 150) leaves it there; B's nginx dying hands the VIP
// to A, which keeps it when B recovers; A leaving hands it back for good.
func TestImportSharedFileNopreempt(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	netlab.RequireNginx(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	conf := fmt.Sprintf(`# shared by lb1 and lb2
$VIP=%[1]s
$IF=%[2]s
@lb1 $PRIO=150
@lb2 $PRIO=100

global_defs {
@lb1    router_id lb1
@lb2    router_id lb2
    vrrp_version 3
    script_user root
    enable_script_security
}

vrrp_script chk_nginx {
    script %[3]s
    interval 1
    fall 1
    rise 1
}

vrrp_instance VI_1 {
    state BACKUP
    nopreempt
    interface ${IF}
    virtual_router_id 62
    priority $PRIO
    advert_int 0.5
    virtual_ipaddress {
        $VIP
    }
    track_script {
        chk_nginx
    }
}
`, vip, a.Iface, nginxScript)
	a.StartNginx(t)
	nginxB := b.StartNginx(t)
	startKeepalivedFile(t, b, conf, "lb2")
	holderOf(t, lab, vip.Addr(), b, 15*time.Second)
	// nopreempt differs from keepalived only when the master's priority
	// falls, which a weight-0 script never does: exit 1 names it.
	startImported(t, a, conf, "lb1", 1)
	staysOn(t, lab, vip.Addr(), b, 4*time.Second)
	nginxB.Kill(t)
	holderOf(t, lab, vip.Addr(), a, 15*time.Second)
	nginxB.Restart(t)
	staysOn(t, lab, vip.Addr(), a, 4*time.Second)
	lab.PortDown(t, a)
	holderOf(t, lab, vip.Addr(), b, 15*time.Second)
	lab.PortUp(t, a)
	staysOn(t, lab, vip.Addr(), b, 4*time.Second)
}

// TestImportTwoInstancesEachMasterOnOneNode: VI_1 is A's, VI_2 is B's; A
// leaving moves both to B, and A's return takes back VI_1 only.
func TestImportTwoInstancesEachMasterOnOneNode(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	a, b := lab.Nodes[0], lab.Nodes[1]
	vip2 := netip.MustParsePrefix("198.51.100.101/24")
	conf := func(n *netlab.Node, p1, p2 int) string {
		return fmt.Sprintf(`global_defs {
    router_id %[1]s
}
vrrp_instance VI_1 {
    interface %[2]s
    virtual_router_id 63
    priority %[3]d
    advert_int 1
    virtual_ipaddress {
        %[5]s dev %[2]s
    }
}
vrrp_instance VI_2 {
    interface %[2]s
    virtual_router_id 64
    priority %[4]d
    advert_int 1
    virtual_ipaddress {
        %[6]s
    }
}
`, n.Name, n.Iface, p1, p2, vip, vip2)
	}
	startKeepalivedFile(t, b, conf(b, 100, 150), "")
	startImported(t, a, conf(a, 150, 100), "a", 0)
	holderOf(t, lab, vip.Addr(), a, 15*time.Second)
	holderOf(t, lab, vip2.Addr(), b, 15*time.Second)
	lab.PortDown(t, a)
	holderOf(t, lab, vip.Addr(), b, 15*time.Second)
	holderOf(t, lab, vip2.Addr(), b, 15*time.Second)
	lab.PortUp(t, a)
	holderOf(t, lab, vip.Addr(), a, 15*time.Second)
	staysOn(t, lab, vip2.Addr(), b, 3*time.Second)
}
