package notify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func script(t *testing.T, body string) (path, out string) {
	t.Helper()
	dir := t.TempDir()
	out = filepath.Join(dir, "out")
	path = filepath.Join(dir, "notify.sh")
	src := "#!/bin/sh\nOUT=" + out + "\n" + body + "\n"
	if err := os.WriteFile(path, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, out
}

func TestRunsInTransitionOrderOneAtATime(t *testing.T) {
	// Each run takes a while and checks that no other run overlaps it.
	path, out := script(t, `
if [ -e "$OUT.lock" ]; then echo OVERLAP >> "$OUT"; fi
touch "$OUT.lock"; sleep 0.05
echo "$1 $2 $3 $4" >> "$OUT"
rm -f "$OUT.lock"`)
	n := New(Scripts{Notify: path}, time.Second, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	for _, ev := range []Event{{Instance: "VI_1", State: "BACKUP", Priority: 100}, {Instance: "VI_1", State: "MASTER", Priority: 100}, {Instance: "VI_1", State: "FAULT", Priority: 100}, {Instance: "VI_1", State: "BACKUP", Priority: 90}} {
		n.Notify(ev)
	}
	cancel() // queued notifications still run, in order
	<-done
	b, _ := os.ReadFile(out)
	want := "INSTANCE VI_1 BACKUP 100\nINSTANCE VI_1 MASTER 100\nINSTANCE VI_1 FAULT 100\nINSTANCE VI_1 BACKUP 90\n"
	if string(b) != want {
		t.Fatalf("script saw:\n%s\nwant:\n%s", b, want)
	}
}

func TestNotifyNeverBlocks(t *testing.T) {
	path, _ := script(t, "sleep 5")
	core, logs := observer.New(zap.WarnLevel)
	n := New(Scripts{Notify: path}, 100*time.Millisecond, zap.New(core))
	start := time.Now()
	for i := 0; i < 3*queueLen; i++ { // nothing runs them: the queue overflows
		n.Notify(Event{Instance: "VI_1", State: "MASTER", Priority: uint8(i)})
	}
	if time.Since(start) > time.Second {
		t.Fatal("Notify blocked")
	}
	if logs.FilterMessage("notify script is behind; dropped a notification").Len() == 0 {
		t.Error("dropped notifications were not logged")
	}
}

func TestTimeoutKillsTheScriptAndItsChildren(t *testing.T) {
	path, out := script(t, `sleep 30 & echo $! > "$OUT"; wait`)
	core, logs := observer.New(zap.InfoLevel)
	n := New(Scripts{Notify: path}, 200*time.Millisecond, zap.New(core))
	start := time.Now()
	n.run(Event{Instance: "VI_1", State: "MASTER", Priority: 150})
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("run took %v with a 200ms timeout", took)
	}
	if logs.FilterMessageSnippet("killed after").Len() != 1 {
		t.Errorf("timeout not logged: %v", logs.All())
	}
	b, _ := os.ReadFile(out)
	pid := strings.TrimSpace(string(b))
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat("/proc/" + pid); err == nil {
		if st, _ := os.ReadFile("/proc/" + pid + "/stat"); !strings.Contains(string(st), ") Z") {
			t.Errorf("the script's child %s survived the timeout", pid)
		}
	}
}

func TestFailureAndOutputAreLogged(t *testing.T) {
	path, _ := script(t, `echo "cannot reach pager"; exit 3`)
	core, logs := observer.New(zap.InfoLevel)
	New(Scripts{Notify: path}, time.Second, zap.New(core)).run(Event{Instance: "VI_1", State: "FAULT", Priority: 150})
	entries := logs.FilterMessage("notify script failed").All()
	if len(entries) != 1 || entries[0].ContextMap()["output"] != "cannot reach pager" {
		t.Fatalf("logs: %v", logs.All())
	}
	New(Scripts{Notify: "/nonexistent/notify.sh"}, time.Second, zap.New(core)).run(Event{Instance: "VI_1", State: "FAULT", Priority: 150})
	if logs.FilterMessage("notify script not run").Len() != 1 {
		t.Error("a missing script was not logged as a failure")
	}
}

// TestKeepalivedConvention: the state's own script runs first with its
// own arguments, then notify with keepalived's; INIT is keepalived's STOP,
// and a group is GROUP NAME STATE 0.
func TestKeepalivedConvention(t *testing.T) {
	path, out := script(t, `echo "notify $*" >> "$OUT"`)
	state, _ := script(t, `echo "state $*" >> "`+out+`"`)
	n := New(Scripts{Notify: path, Master: []string{state, "m", "a b"}, Stop: []string{state, "stop"}}, time.Second, zap.NewNop())
	n.run(Event{Instance: "VI_1", State: "BACKUP", Priority: 100})
	n.run(Event{Instance: "VI_1", State: "MASTER", Priority: 150})
	n.run(Event{Instance: "VI_1", State: "INIT", Priority: 150})
	n.run(Event{Instance: "G1", State: "MASTER", Group: true})
	b, _ := os.ReadFile(out)
	want := "notify INSTANCE VI_1 BACKUP 100\nstate m a b\nnotify INSTANCE VI_1 MASTER 150\nstate stop\nnotify INSTANCE VI_1 STOP 150\n" +
		"state m a b\nnotify GROUP G1 MASTER 0\n"
	if string(b) != want {
		t.Fatalf("scripts saw:\n%s\nwant:\n%s", b, want)
	}
	if !n.Scripts().Equal(Scripts{Notify: path, Master: []string{state, "m", "a b"}, Stop: []string{state, "stop"}}) || n.Scripts().Empty() {
		t.Error("Scripts() differs from what New was given")
	}
}

// TestInsecureScriptIsRefused: as root, a script another user could change
// is not run (keepalived's enable_script_security, always on).
func TestInsecureScriptIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the check applies to a root daemon only")
	}
	path, out := script(t, `echo ran > "$OUT"`)
	os.Chmod(path, 0o775)
	core, logs := observer.New(zap.InfoLevel)
	New(Scripts{Notify: path}, time.Second, zap.New(core)).run(Event{Instance: "VI_1", State: "MASTER", Priority: 150})
	entries := logs.FilterMessage("notify script not run").All()
	if len(entries) != 1 || !strings.Contains(entries[0].ContextMap()["error"].(string), "writable by its group") {
		t.Fatalf("logs: %v", logs.All())
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("the insecure script ran")
	}
}
