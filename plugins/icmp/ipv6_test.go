package icmp

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/hasidecar/hasidecar/sdk"
)

// inNamespace runs f on a thread inside a fresh network namespace holding a
// veth with 2001:db8:51::1/64 (its peer down, so nobody else answers), and
// lo up.
func inNamespace(t *testing.T, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	name := "hsicmp6" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	for _, args := range [][]string{
		{"netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"},
		{"-n", name, "link", "set", "lo", "up"},
		{"-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"-n", name, "addr", "add", "2001:db8:51::1/64", "dev", "v0", "nodad"},
		{"-n", name, "link", "set", "v0", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // the thread is thrown away with its namespace
		ns, err := netns.GetFromName(name)
		if err != nil {
			t.Error(err)
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			t.Error(err)
			return
		}
		f()
	}()
	<-done
}

func TestIPv6(t *testing.T) {
	requireICMP(t)
	inNamespace(t, func() {
		for _, tc := range []struct {
			addr    string
			healthy bool
			msg     string
		}{
			{"::1", true, "reply from ::1 in "},
			{"2001:db8:51::1", true, "reply from 2001:db8:51::1 in "},
			{"2001:db8:51::254", false, ""},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			res := newProbe(t, tc.addr).Check(ctx)
			cancel()
			if res.Healthy != tc.healthy || !strings.HasPrefix(res.Message, tc.msg) {
				t.Errorf("%s: %+v", tc.addr, res)
			}
		}
	})
}

func TestIPv6ProbeKeepsAddress(t *testing.T) {
	p, diags := checker{}.New(sdk.NewConfig([]byte(`{"address":"2001:db8:51::1"}`)))
	if diags.HasErrors() || p.(probe).address != "2001:db8:51::1" {
		t.Fatalf("%+v %v", p, diags)
	}
}
