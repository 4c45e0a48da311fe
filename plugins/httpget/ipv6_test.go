package httpget

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestHTTPIPv6 reaches a real server at http://[::1]:PORT/, with the
// bracketed literal as the Host header.
func TestHTTPIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no IPv6 loopback under CI: %v", err)
		}
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	var host string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host = r.Host
		w.Write([]byte(page))
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://[::1]:") {
		t.Fatalf("server at %s", srv.URL)
	}
	res := run(t, map[string]any{"url": srv.URL + "/", "digest": pageDigest()}, time.Second)
	if !res.Healthy || !strings.Contains(res.Message, "200") {
		t.Fatalf("%+v", res)
	}
	if host != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("Host header %q, want %q", host, strings.TrimPrefix(srv.URL, "http://"))
	}
}

func TestIPv6URLAccepted(t *testing.T) {
	for _, u := range []string{"http://[2001:db8::1]/", "https://[::1]:8443/healthz"} {
		if _, diags := newProbe(t, map[string]any{"url": u}); diags.HasErrors() {
			t.Errorf("%s: %v", u, diags)
		}
	}
}
