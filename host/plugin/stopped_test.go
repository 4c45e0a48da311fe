package plugin

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A check run still under way when a reload stopped its plugin (its last
// check removed) must not start the plugin again: nothing would stop it.
func TestCheckDoesNotRestartAStoppedPlugin(t *testing.T) {
	m := newManager(t, Options{Dir: pluginDir(t)})
	_, cfg := healthyFile(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.Configure(ctx, "filecheck", "c1", cfg); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, m, "c1", 5*time.Second)
	pid := m.Pid("filecheck")
	m.Stop("filecheck")
	waitGone(t, pid, 5*time.Second)

	if _, _, err := check(t, m, "c1"); !errors.Is(err, ErrDown) {
		t.Errorf("a check of a stopped plugin: %v, want ErrDown", err)
	}
	if err := m.Remove(ctx, "filecheck", "c1"); err != nil {
		t.Errorf("removing a check of a stopped plugin: %v", err)
	}
	if got := m.Running(); len(got) != 0 || m.Pid("filecheck") != 0 {
		t.Errorf("plugins running after the check and remove: %v (pid %d)", got, m.Pid("filecheck"))
	}
	// A check configured later starts it again.
	if _, err := m.Configure(ctx, "filecheck", "c2", cfg); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, m, "c2", 5*time.Second)
}
