package tcp

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCheckIPv6 connects to a real listener on [::1].
func TestCheckIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no IPv6 loopback under CI: %v", err)
		}
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := l.Addr().String() // [::1]:PORT
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if res := newProbe(t, `{"address":"`+addr+`"}`).Check(ctx); !res.Healthy || !strings.Contains(res.Message, "connected to "+addr) {
		t.Fatalf("%+v", res)
	}
	l.Close()
	if res := newProbe(t, `{"address":"`+addr+`"}`).Check(ctx); res.Healthy || !strings.Contains(res.Message, "refused") {
		t.Fatalf("closed: %+v", res)
	}
}

func TestIPv6AddressesAccepted(t *testing.T) {
	for _, a := range []string{"[::1]:80", "[2001:db8:51::1]:443"} {
		newProbe(t, `{"address":"`+a+`"}`) // fails the test on a diagnostic
	}
}
