package netlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runTimeout bounds Node.Run: a command that hangs fails the test.
const runTimeout = 60 * time.Second

// Command returns a command that runs name inside n's namespace. `ip netns
// exec` switches namespace and then execs name, so the command's pid is the
// program's own pid and signals reach it directly.
func (n *Node) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Run runs name inside n's namespace to completion and returns its combined
// output; it fails the test with that output on error.
func (n *Node) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	out, err := n.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %s %s: %v\n%s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Process is a program started in a node's namespace by Start. It is stopped
// when the test that started it ends and again, if need be, at lab teardown.
type Process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File

	done    chan struct{} // closed once Wait has returned
	waitErr error         // valid after done is closed

	stopOnce sync.Once
}

// Start runs name in the background inside n's namespace. Its stdout and
// stderr go to a file in t.TempDir(), read with Log.
func (n *Node) Start(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	p, err := n.start(t.TempDir(), name, args...)
	if err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	// Registered after t.TempDir, so it runs before the directory goes.
	t.Cleanup(func() { p.Stop(killGrace) })
	return p
}

func (n *Node) start(dir, name string, args ...string) (*Process, error) {
	logFile, err := os.CreateTemp(dir, filepath.Base(name)+"-*.log")
	if err != nil {
		return nil, fmt.Errorf("creating log file for %s: %w", name, err)
	}
	// Not CommandContext: the process lives until Stop, not until a context ends.
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group keeps terminal signals meant for `go test` away
	// from it; the lab decides when it dies. Pdeathsig covers the one case
	// cleanups cannot: the test binary itself being killed (e.g. by -timeout).
	// It fires when the spawning OS thread exits, which Go threads do not do
	// unless locked, and survives the exec done by `ip netns exec`.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, logPath: logFile.Name(), logFile: logFile, done: make(chan struct{})}
	n.lab.track(p)
	go func() {
		p.waitErr = cmd.Wait()
		p.logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id of the program (not of a wrapper).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process; signalling an exited process is not an error.
func (p *Process) Signal(sig os.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signalling %s (pid %d): %w", p.name, p.Pid(), err)
	}
	return nil
}

// Stop sends SIGTERM, waits up to timeout, then SIGKILLs and waits for the
// exit. It returns the process's exit error; calling it again is harmless.
func (p *Process) Stop(timeout time.Duration) error {
	p.stopOnce.Do(func() {
		_ = p.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(timeout):
			_ = p.Signal(syscall.SIGKILL)
		}
	})
	return p.Wait()
}

// Wait blocks until the process has exited and returns its exit error.
func (p *Process) Wait() error {
	<-p.done
	return p.waitErr
}

// WaitTimeout waits up to timeout for the process to exit; exited is false
// when it is still running, err is its exit error otherwise.
func (p *Process) WaitTimeout(timeout time.Duration) (exited bool, err error) {
	select {
	case <-p.done:
		return true, p.waitErr
	case <-time.After(timeout):
		return false, nil
	}
}

// Exited reports whether the process has exited (and been reaped).
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Log returns everything the process wrote to stdout and stderr so far.
func (p *Process) Log() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("<reading log of %s: %v>", p.name, err)
	}
	return string(b)
}

// LogPath is the file holding the process's output.
func (p *Process) LogPath() string { return p.logPath }

// WaitLog polls the output every 10ms until it contains substr; it returns an
// error with the output so far on timeout or when the process exits first.
func (p *Process) WaitLog(substr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(p.Log(), substr) {
			return nil
		}
		if p.Exited() {
			if strings.Contains(p.Log(), substr) {
				return nil
			}
			return fmt.Errorf("%s exited (%v) before logging %q; output:\n%s", p.name, p.waitErr, substr, p.Log())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not log %q within %v; output:\n%s", p.name, substr, timeout, p.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Children lists the pids of the process's direct children (a daemon's
// plugins, nginx's workers).
func (p *Process) Children() []int { return childrenOf(p.Pid()) }
