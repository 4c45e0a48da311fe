package tcp

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/sdk"
)

func newProbe(t *testing.T, js string) sdk.Probe {
	t.Helper()
	p, diags := checker{}.New(sdk.NewConfig([]byte(js)))
	if diags.HasErrors() {
		t.Fatalf("New(%s): %v", js, diags)
	}
	return p
}

func TestSchema(t *testing.T) {
	s := checker{}.Schema()
	if len(s.Attributes) != 1 || s.Attributes[0].Name != "address" || !s.Attributes[0].Required || s.Attributes[0].Type != sdk.String {
		t.Fatalf("schema %+v", s)
	}
}

func TestBadAddresses(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":80", "127.0.0.1:http-ish", ""} {
		_, diags := checker{}.New(sdk.NewConfig([]byte(`{"address":"` + addr + `"}`)))
		if !diags.HasErrors() || diags[0].Attribute != "address" {
			t.Errorf("address %q accepted: %v", addr, diags)
		}
	}
}

func TestCheck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := l.Addr().String()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	defer l.Close()

	tests := []struct {
		name    string
		addr    string
		healthy bool
		message string
	}{
		{"listening", open, true, "connected to " + open},
		{"by host name", "localhost:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), true, "connected to localhost:"},
		{"closed port", closedAddr, false, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			res := newProbe(t, `{"address":"`+tt.addr+`"}`).Check(ctx)
			if res.Healthy != tt.healthy || !strings.Contains(res.Message, tt.message) {
				t.Fatalf("%+v, want healthy=%v %q", res, tt.healthy, tt.message)
			}
		})
	}
}
