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

func newProbe(t *testing.T, addr string) sdk.Probe {
	t.Helper()
	p, diags := checker{}.New(sdk.NewConfig([]byte(`{"address":"` + addr + `"}`)))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

func requireICMP(t *testing.T) {
	t.Helper()
	c, _, err := listen(false)
	if err != nil {
		if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
			t.Fatalf("no ICMP socket as root under CI: %v", err)
		}
		t.Skipf("cannot open an ICMP socket here: %v", err)
	}
	c.Close()
}

func TestLoopbackAnswers(t *testing.T) {
	requireICMP(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res := newProbe(t, "127.0.0.1").Check(ctx)
	if !res.Healthy || !strings.HasPrefix(res.Message, "reply from 127.0.0.1 in ") {
		t.Fatalf("%+v", res)
	}
	res = newProbe(t, "localhost").Check(ctx)
	if !res.Healthy {
		t.Fatalf("by name: %+v", res)
	}
}

// TestNoAnswer pings from inside a namespace the test makes: an address with
// a route but no host behind it, so nothing leaves this machine.
func TestNoAnswer(t *testing.T) {
	requireICMP(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	name := "hsicmp" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		// A veth whose peer is down: routes exist, nobody answers.
		{"link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"addr", "add", "198.51.100.1/24", "dev", "v0"},
		{"link", "set", "v0", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", name}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	var res sdk.Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // the thread is thrown away with its namespace
		ns, err := netns.GetFromName(name)
		if err != nil {
			res = sdk.Result{Message: err.Error()}
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			res = sdk.Result{Message: err.Error()}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		res = newProbe(t, "198.51.100.254").Check(ctx)
	}()
	<-done
	if res.Healthy || !(strings.HasPrefix(res.Message, "no reply from 198.51.100.254 within") || strings.Contains(res.Message, "unreachable")) {
		t.Fatalf("%+v", res)
	}
}

func TestBadAddresses(t *testing.T) {
	for _, a := range []string{"", "fe80::1%eth0", "ff02::1", "::", "198.51.100.1:80", "[2001:db8::1]", "a b"} {
		if _, diags := (checker{}).New(sdk.NewConfig([]byte(`{"address":"` + a + `"}`))); !diags.HasErrors() || diags[0].Attribute != "address" {
			t.Errorf("%q accepted: %v", a, diags)
		}
	}
}

func TestSchemaKeys(t *testing.T) {
	s := checker{}.Schema()
	if len(s.Attributes) != 1 || s.Attributes[0].Name != "address" || !s.Attributes[0].Required {
		t.Fatalf("%+v", s)
	}
}
