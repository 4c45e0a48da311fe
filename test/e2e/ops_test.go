package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// cliIn runs the hasidecar binary with args in directory dir (as root) and
// returns its exit code and combined output.
func cliIn(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	return runCmd(t, cmd)
}

func runCmd(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestControlFromAnywhere is the operator's day: the daemon was started with
// a relative path; status and reload are run from the file's directory with
// a relative path, and from elsewhere; the file on disk is then broken
// mid-edit. Status must keep answering, reload must read the daemon's own
// file and print its diagnostics.
func TestControlFromAnywhere(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 1)
	n1 := lab.Nodes[0]
	dir := t.TempDir()
	d := &daemon{node: n1, config: filepath.Join(dir, "hasidecar.hcl"), socket: filepath.Join(dir, "hasidecar.sock")}
	d.write(t, lab, nodeConfig{Priority: 150, Preempt: true})
	// Started from its directory with a relative path, as an operator might.
	d.proc = n1.Start(t, "sh", "-c", "cd "+dir+" && exec "+binary+" run --config hasidecar.hcl")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hasidecar log:\n%s", d.proc.Log())
		}
	})
	waitSoleHolder(t, lab, n1, 10*time.Second)
	elsewhere := t.TempDir()

	if code, out := cliIn(t, dir, "status", "--config", "hasidecar.hcl"); code != 0 || !strings.Contains(out, "MASTER") {
		t.Fatalf("status from the file's directory: exit %d\n%s", code, out)
	}
	// A changed priority, reloaded from the file's directory by a relative
	// path: the daemon reads its own absolute path.
	good, _ := os.ReadFile(d.config)
	os.WriteFile(d.config, []byte(strings.Replace(string(good), "priority = 150", "priority = 140", 1)), 0o644)
	if code, out := cliIn(t, dir, "reload", "--config", "hasidecar.hcl"); code != 0 || !strings.Contains(out, "reloaded "+d.config) {
		t.Fatalf("reload by a relative path: exit %d\n%s", code, out)
	}
	if p := d.status(t).Instances[0].Priority; p != 140 {
		t.Fatalf("priority after reload = %d, want 140", p)
	}

	// Mid-edit: a syntax error below the control block.
	broken := strings.Replace(string(good), "priority = 150", "priority = 130", 1) + "\nvrrp_instance \"VI_2\" {\n  interface = \n"
	os.WriteFile(d.config, []byte(broken), 0o644)
	for _, args := range [][]string{
		{"status", "--config", "hasidecar.hcl"},
		{"status", "--config", d.config, "--json"},
		{"status", "--socket", d.socket},
	} {
		where := elsewhere
		if args[2] == "hasidecar.hcl" {
			where = dir
		}
		if code, out := cliIn(t, where, args...); code != 0 || !strings.Contains(out, "MASTER") {
			t.Errorf("%v with a broken file on disk: exit %d\n%s", args, code, out)
		}
	}
	// Reload from elsewhere with --socket reads the daemon's (broken) file
	// and prints where it is wrong; the daemon keeps running as it was.
	code, out := cliIn(t, elsewhere, "reload", "--socket", d.socket)
	if code != 1 || !strings.Contains(out, d.config+":") || !strings.Contains(out, "rejected") {
		t.Fatalf("reload of a broken file: exit %d\n%s", code, out)
	}
	if st := d.status(t).Instances[0]; st.State != "MASTER" || st.Priority != 140 {
		t.Fatalf("after a rejected reload: %+v", st)
	}
	// A file too broken to parse at all still leads to the socket.
	os.WriteFile(d.config, []byte("control { socket = \""+d.socket+"\" }\nvrrp_instance {{{ \"\n"), 0o644)
	if code, out := cliIn(t, elsewhere, "status", "--config", d.config); code != 0 || !strings.Contains(out, "MASTER") {
		t.Errorf("status with an unparseable file: exit %d\n%s", code, out)
	}
}

// TestControlCredentials runs the client as real non-root users: a member of
// the control group reads status but may not reload or enter maintenance;
// a user outside it is refused everything, with a message saying what is
// allowed; root may do everything.
func TestControlCredentials(t *testing.T) {
	netlab.RequireRoot(t)
	for _, tool := range []string{"useradd", "groupadd", "userdel", "groupdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (package passwd)", tool)
		}
	}
	t.Parallel()
	suffix := strconv.Itoa(os.Getpid() % 100000)
	group, member, outsider := "hsdg"+suffix, "hsdm"+suffix, "hsdo"+suffix
	mustRun := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	mustRun("groupadd", group)
	t.Cleanup(func() { exec.Command("groupdel", group).Run() })
	mustRun("useradd", "-M", "-N", "-G", group, "-s", "/usr/sbin/nologin", member)
	t.Cleanup(func() { exec.Command("userdel", member).Run() })
	mustRun("useradd", "-M", "-N", "-s", "/usr/sbin/nologin", outsider)
	t.Cleanup(func() { exec.Command("userdel", outsider).Run() })

	// Everything the users need to reach must be traversable by them: a
	// directory of our own under /tmp with the binary copied into it.
	base, err := os.MkdirTemp("", "hasidecar-cred-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	bin := filepath.Join(base, "hasidecar")
	copyFile(t, binary, bin, 0o755)

	lab := netlab.New(t, 1)
	n1 := lab.Nodes[0]
	d := &daemon{node: n1, config: filepath.Join(base, "hasidecar.hcl"), socket: filepath.Join(base, "run", "hasidecar.sock")}
	d.write(t, lab, nodeConfig{Priority: 150, Preempt: true})
	src, _ := os.ReadFile(d.config)
	ctl := fmt.Sprintf("control { socket = %q }\n", d.socket)
	os.WriteFile(d.config, []byte(strings.Replace(string(src), ctl, fmt.Sprintf("control {\n  socket = %q\n  group  = %q\n}\n", d.socket, group), 1)), 0o644)
	d.proc = n1.Start(t, binary, "run", "--config", d.config)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hasidecar log:\n%s", d.proc.Log())
		}
	})
	waitSoleHolder(t, lab, n1, 10*time.Second)

	// The socket and its directory follow the group.
	g, err := user.LookupGroup(group)
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	for path, want := range map[string]os.FileMode{d.socket: 0o660, filepath.Dir(d.socket): 0o750} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want || int(fi.Sys().(*syscall.Stat_t).Gid) != gid {
			t.Errorf("%s: mode %v gid %d, want %v gid %d", path, fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Gid, want, gid)
		}
	}

	as := func(name string, args ...string) (int, string) {
		u, err := user.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		pgid, _ := strconv.Atoi(u.Gid)
		groups := []uint32{}
		if ids, err := u.GroupIds(); err == nil {
			for _, s := range ids {
				n, _ := strconv.Atoi(s)
				groups = append(groups, uint32(n))
			}
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(pgid), Groups: groups}}
		return runCmd(t, cmd)
	}
	sock := []string{"--socket", d.socket}
	tests := []struct {
		who, cmd string
		code     int
		want     string
	}{
		{member, "status", 0, "MASTER"},
		{member, "reload", 1, "reload and maintenance are for root only"},
		{member, "maintenance", 1, "reload and maintenance are for root only"},
		{outsider, "status", 1, "permission denied"},
		{outsider, "reload", 1, "permission denied"},
		{"root", "status", 0, "MASTER"},
		{"root", "reload", 0, "reloaded " + d.config},
	}
	for _, tt := range tests {
		t.Run(tt.who+" "+tt.cmd, func(t *testing.T) {
			args := append([]string{tt.cmd}, sock...)
			if tt.cmd == "maintenance" {
				args = append([]string{"maintenance", "on"}, sock...)
			}
			code, out := as(tt.who, args...)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("%s as %s: exit %d, want %d with %q\n%s", tt.cmd, tt.who, code, tt.code, tt.want, out)
			}
		})
	}
	if st := d.status(t).Instances[0]; st.State != "MASTER" {
		t.Errorf("refused requests changed the daemon: %+v", st)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestReloadKeepsChangedCheckHealth changes a tracked check's interval on a
// running master. Its health must carry over until the first new result: a
// slow check (0.8 s) must not leave the master advertising a lowered
// priority in between, which would hand the VIP to the backup and back.
func TestReloadKeepsChangedCheckHealth(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	check := func(interval string) string {
		return fmt.Sprintf(`
check "slow" {
  plugin   = "script"
  interval = %q
  timeout  = "1500ms"
  config { command = ["/bin/sleep", "0.8"] }
}
`, interval)
	}
	c1 := nodeConfig{Priority: 150, Preempt: true, Checks: check("2s"), InstanceExtra: "  track_check \"slow\" { weight = -60 }\n"}
	d1 := startHasidecar(t, lab, n1, c1)
	waitSoleHolder(t, lab, n1, 15*time.Second)
	d2 := startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true})
	time.Sleep(time.Second)
	before := d2.status(t).Instances[0].Transitions

	c1.Checks = check("3s")
	d1.write(t, lab, c1)
	if code, out := d1.reload(t); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	holdsSteady(t, lab, n1, 3*time.Second)
	if after := d2.status(t).Instances[0]; after.Transitions != before || after.State != "BACKUP" {
		t.Fatalf("the backup moved during the reload: %+v (transitions before %d)", after, before)
	}
	if st := d1.status(t).Instances[0]; st.EffectivePriority != 150 {
		t.Fatalf("master's effective priority %d after reload, want 150", st.EffectivePriority)
	}
}

// TestConflictsSaidPlainly runs hasidecar at its default VRRPv3 beside
// keepalived at VRRPv2 (keepalived's default): two masters, and hasidecar
// must say why, at error level, in status and in a way an operator can act
// on. Then the same with another password.
func TestConflictsSaidPlainly(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	t.Parallel()
	tests := []struct {
		name       string
		h, k       nodeConfig
		kind, want string
	}{
		{"version", nodeConfig{Priority: 150, Preempt: true, Version: 3, AdvertInterval: time.Second},
			nodeConfig{Priority: 100, Preempt: true, Version: 2, AdvertInterval: time.Second},
			"version", "speaks VRRPv2 on VRID 51; set version = 2 to pair with it"},
		{"password", nodeConfig{Priority: 150, Preempt: true, Version: 2, AdvertInterval: time.Second, AuthPass: "secret1"},
			nodeConfig{Priority: 100, Preempt: true, Version: 2, AdvertInterval: time.Second, AuthPass: "other22"},
			"auth", "advertises VRID 51 with another auth_pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab := netlab.New(t, 2)
			n1, n2 := lab.Nodes[0], lab.Nodes[1]
			d := startHasidecar(t, lab, n1, tt.h)
			keepalivedPeer(t, lab, n2, tt.k)
			if err := d.proc.WaitLog("hasidecar running", 15*time.Second); err != nil {
				t.Fatal(err)
			}
			want := n2.Addr.String() + " " + tt.want
			deadline := time.Now().Add(15 * time.Second)
			for {
				st := d.status(t).Instances[0]
				found := false
				for _, c := range st.Conflicts {
					if c.Kind == tt.kind && c.Active && strings.Contains(c.Message, want) {
						found = true
					}
				}
				if found {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("status shows no %s conflict %q: %+v", tt.kind, want, st.Conflicts)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err := d.proc.WaitLog("ERROR\tconflict: "+want, 5*time.Second); err != nil {
				t.Fatalf("no error-level log line: %v", err)
			}
			if code, out := cliIn(t, "/", "status", "--socket", d.socket); code != 0 || !strings.Contains(out, "CONFLICT VI_1 ("+tt.kind) {
				t.Errorf("status table:\n%s", out)
			}
		})
	}
}

// TestDuplicateVIPOwner: while our node is master, the client namespace
// claims the VIP (a forgotten static address). Its kernel answers our
// probes from another MAC; the master must name the MAC at error level,
// in status and as a conflict.
func TestDuplicateVIPOwner(t *testing.T) {
	for _, v := range []netip.Prefix{vip, vip6} {
		t.Run(fmt.Sprintf("IPv%d", map[bool]int{true: 4, false: 6}[v.Addr().Is4()]), func(t *testing.T) {
			netlab.RequireRoot(t)
			t.Parallel()
			lab := netlab.New(t, 1)
			n1 := lab.Nodes[0]
			d := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true, VIPs: []netip.Prefix{v}})
			waitSoleHolderOf(t, lab, v.Addr(), n1, 10*time.Second)
			rogue := lab.Client.MAC(t)
			claim := netip.PrefixFrom(v.Addr(), v.Addr().BitLen()).String()
			// nodad: the rogue takes the address at once, as a forgotten
			// static one would (and answers the master's probes).
			lab.Client.Run(t, "ip", "addr", "add", claim, "dev", lab.Client.Iface, "nodad")
			t.Cleanup(func() { exec.Command("ip", "-n", lab.Client.Name, "addr", "del", claim, "dev", lab.Client.Iface).Run() })

			want := fmt.Sprintf("%s (MAC %s) answers for %s while this node is master of VI_1: duplicate VIP owner", v.Addr(), rogue, v.Addr())
			deadline := time.Now().Add(30 * time.Second)
			for {
				found := false
				for _, c := range d.status(t).Instances[0].Conflicts {
					if c.Kind == "duplicate_vip" && c.Active && strings.Contains(c.Message, want) && c.Peer == rogue {
						found = true
					}
				}
				if found {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no duplicate VIP conflict naming %s: %+v", rogue, d.status(t).Instances[0].Conflicts)
				}
				time.Sleep(250 * time.Millisecond)
			}
			if err := d.proc.WaitLog("ERROR\tconflict: "+want, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			// Being told is all: the master keeps the VIP.
			if st := d.status(t).Instances[0]; st.State != "MASTER" {
				t.Fatalf("state %s", st.State)
			}
		})
	}
}

// TestStatusWarnsOfAWeightTooSmall: the backup hears the master advertise
// 150; with its own weight of -40 the master's failure would leave 110,
// above the backup's 100. Status says so.
func TestStatusWarnsOfAWeightTooSmall(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	checks := `
check "nginx" {
  plugin = "script"
  config { command = ["/bin/true"] }
}
`
	extra := "  track_check \"nginx\" { weight = -40 }\n"
	startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true, Checks: checks, InstanceExtra: extra})
	waitSoleHolder(t, lab, n1, 15*time.Second)
	d2 := startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true, Checks: checks, InstanceExtra: extra})
	if err := d2.proc.WaitLog("hasidecar running", 15*time.Second); err != nil {
		t.Fatal(err)
	}
	want := "tracks check nginx with weight -40 as this node does, its failure leaves priority 110 >= our 100"
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := d2.status(t)
		if len(st.Warnings) == 1 && strings.Contains(st.Warnings[0], want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backup's status warnings: %q", st.Warnings)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, out := cliIn(t, "/", "status", "--socket", d2.socket); code != 0 || !strings.Contains(out, "WARNING VI_1: if master") {
		t.Errorf("status table:\n%s", out)
	}
}
