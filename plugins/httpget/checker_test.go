package httpget

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/sdk"
)

const page = "<html>ok</html>\n"

func pageDigest() string {
	s := md5.Sum([]byte(page))
	return hex.EncodeToString(s[:])
}

func newProbe(t *testing.T, cfg map[string]any) (sdk.Probe, sdk.Diagnostics) {
	t.Helper()
	js, _ := json.Marshal(cfg)
	return checker{}.New(sdk.NewConfig(js))
}

func run(t *testing.T, cfg map[string]any, timeout time.Duration) sdk.Result {
	t.Helper()
	p, diags := newProbe(t, cfg)
	if diags.HasErrors() {
		t.Fatalf("New: %v", diags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Check(ctx)
}

func TestSchemaKeys(t *testing.T) {
	want := map[string]bool{"url": true, "status_code": false, "digest": false, "host": false, "insecure_skip_verify": false, "ca_file": false}
	s := checker{}.Schema()
	if len(s.Attributes) != len(want) {
		t.Fatalf("schema %+v", s)
	}
	for _, a := range s.Attributes {
		if req, ok := want[a.Name]; !ok || req != a.Required {
			t.Errorf("attribute %+v", a)
		}
	}
}

func TestHTTP(t *testing.T) {
	var host atomic.Value
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host.Store(r.Host)
		switch r.URL.Path {
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "/moved":
			http.Redirect(w, r, "/", http.StatusFound)
		default:
			w.Write([]byte(page))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	tests := []struct {
		name    string
		cfg     map[string]any
		healthy bool
		message string
	}{
		{"200 by default", map[string]any{"url": srv.URL + "/"}, true, "200 OK"},
		{"503 not in default 2xx", map[string]any{"url": srv.URL + "/down"}, false, "status 503 not in [200-299]"},
		{"503 listed", map[string]any{"url": srv.URL + "/down", "status_code": []int{503}}, true, "503"},
		{"200 not listed", map[string]any{"url": srv.URL + "/", "status_code": []int{204}}, false, "status 200 not in [204]"},
		{"redirect is an answer", map[string]any{"url": srv.URL + "/moved", "status_code": []int{302}}, true, "302"},
		{"digest matches", map[string]any{"url": srv.URL + "/", "digest": strings.ToUpper(pageDigest())}, true, "digest ok"},
		{"digest mismatch", map[string]any{"url": srv.URL + "/", "digest": strings.Repeat("0", 32)}, false, "digest mismatch: got " + pageDigest()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, tt.cfg, time.Second)
			if res.Healthy != tt.healthy || !strings.Contains(res.Message, tt.message) {
				t.Fatalf("%+v, want healthy=%v %q", res, tt.healthy, tt.message)
			}
		})
	}

	t.Run("Host header", func(t *testing.T) {
		run(t, map[string]any{"url": srv.URL + "/", "host": "www.example.org"}, time.Second)
		if host.Load() != "www.example.org" {
			t.Fatalf("Host %v", host.Load())
		}
	})
	t.Run("a fresh connection per check", func(t *testing.T) {
		p, _ := newProbe(t, map[string]any{"url": srv.URL + "/"})
		before := conns.Load()
		for range 3 {
			p.Check(context.Background())
		}
		if got := conns.Load() - before; got != 3 {
			t.Fatalf("%d new connections for 3 checks", got)
		}
	})
	t.Run("slow server fails at the deadline", func(t *testing.T) {
		start := time.Now()
		res := run(t, map[string]any{"url": srv.URL + "/slow"}, 100*time.Millisecond)
		if res.Healthy || res.Message != "no answer before the timeout" || time.Since(start) > time.Second {
			t.Fatalf("%+v after %v", res, time.Since(start))
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		if res := run(t, map[string]any{"url": "http://" + addr + "/"}, time.Second); res.Healthy || res.Message != "connection refused" {
			t.Fatalf("%+v", res)
		}
	})
}

func TestHTTPS(t *testing.T) {
	var sni atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni.Store(r.TLS.ServerName)
		w.Write([]byte(page))
	}))
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)

	tests := []struct {
		name    string
		cfg     map[string]any
		healthy bool
		message string
	}{
		{"unverified certificate fails", map[string]any{"url": srv.URL + "/"}, false, "TLS: "},
		{"insecure_skip_verify", map[string]any{"url": srv.URL + "/", "insecure_skip_verify": true}, true, "200 OK"},
		{"ca_file", map[string]any{"url": srv.URL + "/", "ca_file": caFile, "digest": pageDigest()}, true, "digest ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, tt.cfg, 2*time.Second)
			if res.Healthy != tt.healthy || !strings.Contains(res.Message, tt.message) {
				t.Fatalf("%+v, want healthy=%v %q", res, tt.healthy, tt.message)
			}
		})
	}
	t.Run("host sets SNI", func(t *testing.T) {
		for _, host := range []string{"www.example.org", "www.example.org:8443"} {
			run(t, map[string]any{"url": srv.URL + "/", "host": host, "insecure_skip_verify": true}, 2*time.Second)
			if sni.Load() != "www.example.org" {
				t.Fatalf("host %q: SNI %v", host, sni.Load())
			}
		}
	})
}

func TestBadConfig(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o644)
	tests := []struct {
		name string
		cfg  map[string]any
		attr string
	}{
		{"ftp url", map[string]any{"url": "ftp://x/"}, "url"},
		{"no host", map[string]any{"url": "http:///x"}, "url"},
		{"status out of range", map[string]any{"url": "http://x/", "status_code": []int{42}}, "status_code"},
		{"status not whole", map[string]any{"url": "http://x/", "status_code": []float64{200.5}}, "status_code"},
		{"host with a path", map[string]any{"url": "http://x/", "host": "a/b"}, "host"},
		{"url not parseable", map[string]any{"url": "http://[::1"}, "url"},
		{"digest not hex", map[string]any{"url": "http://x/", "digest": "xyz"}, "digest"},
		{"digest too short", map[string]any{"url": "http://x/", "digest": "abcd"}, "digest"},
		{"ca_file missing", map[string]any{"url": "https://x/", "ca_file": "/nonexistent.pem"}, "ca_file"},
		{"ca_file not PEM", map[string]any{"url": "https://x/", "ca_file": notPEM}, "ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := newProbe(t, tt.cfg)
			if !diags.HasErrors() || diags[0].Attribute != tt.attr {
				t.Fatalf("diags %+v, want an error on %s", diags, tt.attr)
			}
		})
	}
}
