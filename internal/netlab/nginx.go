package netlab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Nginx is Debian's nginx serving a node's name on port 80 inside the node's
// namespace, with every file of its own under a private directory.
type Nginx struct {
	node *Node
	dir  string
	conf string
	proc *Process
}

// RequireNginx skips the test when nginx is not installed, and fails it when
// CI=true (CI installs nginx).
func RequireNginx(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("nginx"); err != nil {
		missing(t, "nginx is not installed (apt-get install nginx)")
	}
}

// StartNginx runs nginx in n's namespace. Every page answers with the node's
// name ("Name\n"); /healthz answers "ok\n". It waits until nginx answers.
func (n *Node) StartNginx(t testing.TB) *Nginx {
	t.Helper()
	RequireNginx(t)
	// The document root must be readable by the www-data workers, so it
	// cannot live in t.TempDir (mode 0700).
	dir, err := os.MkdirTemp("", "hasidecar-nginx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	www := filepath.Join(dir, "www")
	for _, d := range []string{dir, www, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(n.Name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	x := &Nginx{node: n, dir: dir, conf: filepath.Join(dir, "nginx.conf")}
	tmp := filepath.Join(dir, "tmp")
	conf := fmt.Sprintf(`daemon off;
master_process on;
user www-data;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[2]s;
    proxy_temp_path %[2]s;
    fastcgi_temp_path %[2]s;
    uwsgi_temp_path %[2]s;
    scgi_temp_path %[2]s;
    default_type text/plain;
    server {
        listen 80;
        listen [::]:80;
        root %[3]s;
        location = /healthz { return 200 "ok\n"; }
        location / { try_files /index.html =404; }
    }
}
`, dir, tmp, www)
	if err := os.WriteFile(x.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	x.start(t)
	return x
}

func (x *Nginx) start(t testing.TB) {
	t.Helper()
	x.proc = x.node.Start(t, "nginx", "-c", x.conf, "-e", filepath.Join(x.dir, "error.log"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, body, err := x.node.HTTPGet("http://127.0.0.1/", time.Second); err == nil && strings.TrimSpace(body) == x.node.Name {
			return
		}
		if time.Now().After(deadline) || x.proc.Exited() {
			t.Fatalf("nginx in %s does not answer:\n%s", x.node.Name, x.proc.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill is "nginx dies": SIGKILL to its master and, since workers outlive a
// killed master and would go on serving, to its workers too.
func (x *Nginx) Kill(t testing.TB) {
	t.Helper()
	pids := append([]int{x.proc.Pid()}, childrenOf(x.proc.Pid())...)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	x.proc.WaitTimeout(5 * time.Second)
	for _, pid := range pids[1:] {
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if syscall.Kill(pid, 0) != nil {
				break
			}
		}
	}
}

// Restart starts nginx again after Kill and waits until it answers.
func (x *Nginx) Restart(t testing.TB) {
	t.Helper()
	x.start(t)
}

// childrenOf lists the pids whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces: the
		// fields after its closing parenthesis are state, then ppid.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}
