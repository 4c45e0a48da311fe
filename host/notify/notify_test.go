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
echo "$1 $2 $3" >> "$OUT"
rm -f "$OUT.lock"`)
	n := New(path, time.Second, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	for _, ev := range []Event{{"VI_1", "BACKUP", 100}, {"VI_1", "MASTER", 100}, {"VI_1", "FAULT", 100}, {"VI_1", "BACKUP", 90}} {
		n.Notify(ev)
	}
	cancel() // queued notifications still run, in order
	<-done
	b, _ := os.ReadFile(out)
	want := "VI_1 BACKUP 100\nVI_1 MASTER 100\nVI_1 FAULT 100\nVI_1 BACKUP 90\n"
	if string(b) != want {
		t.Fatalf("script saw:\n%s\nwant:\n%s", b, want)
	}
}

func TestNotifyNeverBlocks(t *testing.T) {
	path, _ := script(t, "sleep 5")
	core, logs := observer.New(zap.WarnLevel)
	n := New(path, 100*time.Millisecond, zap.New(core))
	start := time.Now()
	for i := 0; i < 3*queueLen; i++ { // nothing runs them: the queue overflows
		n.Notify(Event{"VI_1", "MASTER", uint8(i)})
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
	n := New(path, 200*time.Millisecond, zap.New(core))
	start := time.Now()
	n.run(Event{"VI_1", "MASTER", 150})
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
	New(path, time.Second, zap.New(core)).run(Event{"VI_1", "FAULT", 150})
	entries := logs.FilterMessage("notify script failed").All()
	if len(entries) != 1 || entries[0].ContextMap()["output"] != "cannot reach pager" {
		t.Fatalf("logs: %v", logs.All())
	}
	New("/nonexistent/notify.sh", time.Second, zap.New(core)).run(Event{"VI_1", "FAULT", 150})
	if logs.FilterMessage("notify script not run").Len() != 1 {
		t.Error("a missing script was not logged as a failure")
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
	New(path, time.Second, zap.New(core)).run(Event{"VI_1", "MASTER", 150})
	entries := logs.FilterMessage("notify script not run").All()
	if len(entries) != 1 || !strings.Contains(entries[0].ContextMap()["error"].(string), "writable by its group") {
		t.Fatalf("logs: %v", logs.All())
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("the insecure script ran")
	}
}
