// Package httpget checks a page over HTTP or HTTPS
// (keepalived's HTTP_GET and SSL_GET): its status code and, optionally, the
// MD5 digest of its body.
package httpget

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/hasidecar/hasidecar/sdk"
)

// maxBody is how much of a body is read (and digested); health pages are small.
const maxBody = 1 << 20

type checker struct{}

func (checker) Schema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "url", Type: sdk.String, Required: true, Description: "http:// or https:// URL to GET"},
		{Name: "status_code", Type: sdk.ListNumber, Description: "healthy status codes (default 200-299)"},
		{Name: "digest", Type: sdk.String, Description: "MD5 of the body, as `hasidecar genhash` prints it"},
		{Name: "host", Type: sdk.String, Description: "Host header and TLS server name"},
		{Name: "insecure_skip_verify", Type: sdk.Bool, Description: "do not verify the server's certificate"},
		{Name: "ca_file", Type: sdk.String, Description: "PEM file of CAs to verify the server with"},
	}}
}

type config struct {
	URL                string    `json:"url"`
	StatusCode         []float64 `json:"status_code"`
	Digest             string    `json:"digest"`
	Host               string    `json:"host"`
	InsecureSkipVerify bool      `json:"insecure_skip_verify"`
	CAFile             string    `json:"ca_file"`
}

type probe struct {
	url    string
	host   string
	codes  []int // empty: 200-299
	digest string
	client *http.Client
}

func (checker) New(c sdk.Config) (sdk.Probe, sdk.Diagnostics) {
	var cfg config
	if err := c.Decode(&cfg); err != nil {
		return nil, sdk.Errorf("", "decoding the configuration: %v", err)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, sdk.Errorf("url", "url %q must be an http:// or https:// URL, e.g. \"http://127.0.0.1/healthz\"", cfg.URL)
	}
	codes := make([]int, 0, len(cfg.StatusCode))
	for _, code := range cfg.StatusCode {
		if code != math.Trunc(code) || code < 100 || code > 599 {
			return nil, sdk.Errorf("status_code", "status code %v is not an HTTP status (a whole number from 100 to 599)", code)
		}
		codes = append(codes, int(code))
	}
	digest := strings.ToLower(cfg.Digest)
	if digest != "" {
		if b, err := hex.DecodeString(digest); err != nil || len(b) != md5.Size {
			return nil, sdk.Errorf("digest", "digest %q is not an MD5 (32 hex digits); get it with hasidecar genhash --url %s", cfg.Digest, cfg.URL)
		}
	}
	if cfg.Host != "" && strings.ContainsAny(cfg.Host, " /\t\r\n") {
		return nil, sdk.Errorf("host", "host %q is not a host name, e.g. \"www.example.org\"", cfg.Host)
	}
	// The Host header may carry a port; the TLS server name may not.
	tlsCfg := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify, ServerName: serverName(cfg.Host)}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, sdk.Errorf("ca_file", "reading ca_file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, sdk.Errorf("ca_file", "ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	return &probe{
		url:    cfg.URL,
		host:   cfg.Host,
		codes:  codes,
		digest: digest,
		client: &http.Client{
			// A fresh connection per check: a pooled one would pass while
			// nginx no longer accepts new connections.
			Transport: &http.Transport{TLSClientConfig: tlsCfg, DisableKeepAlives: true, Proxy: nil},
			// Redirects are answers: the status decides, as keepalived.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

func (p *probe) Check(ctx context.Context) sdk.Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return sdk.Unhealthy("%v", err)
	}
	if p.host != "" {
		req.Host = p.host
	}
	req.Header.Set("User-Agent", "hasidecar-httpget")
	resp, err := p.client.Do(req)
	if err != nil {
		return sdk.Unhealthy("%s", reason(ctx, err))
	}
	defer resp.Body.Close()
	if !p.statusOK(resp.StatusCode) {
		return sdk.Unhealthy("status %d not in %s", resp.StatusCode, p.codesText())
	}
	if p.digest == "" {
		return sdk.Healthy("%s", resp.Status)
	}
	h := md5.New()
	if _, err := io.Copy(h, io.LimitReader(resp.Body, maxBody)); err != nil {
		return sdk.Unhealthy("reading the body: %s", reason(ctx, err))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.digest {
		return sdk.Unhealthy("digest mismatch: got %s, want %s", got, p.digest)
	}
	return sdk.Healthy("%s, digest ok", resp.Status)
}

func (p *probe) statusOK(code int) bool {
	if len(p.codes) == 0 {
		return code >= 200 && code <= 299
	}
	return slices.Contains(p.codes, code)
}

func (p *probe) codesText() string {
	if len(p.codes) == 0 {
		return "[200-299]"
	}
	return fmt.Sprint(p.codes)
}

// Close releases the probe's idle connections (there are none with
// keep-alives off, but a future change should not leak them).
func (p *probe) Close() error {
	p.client.CloseIdleConnections()
	return nil
}

// serverName is the TLS server name for a Host header value: without a port
// and without an IPv6 literal's brackets.
func serverName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.Trim(host, "[]")
}

// reason says in a few words why a request failed, without the method and
// URL the user already knows.
func reason(ctx context.Context, err error) string {
	var cert *tls.CertificateVerificationError
	var uerr *url.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case ctx.Err() != nil:
		return "no answer before the timeout"
	case errors.As(err, &cert):
		return "TLS: " + cert.Err.Error()
	case errors.As(err, &uerr):
		return uerr.Err.Error()
	}
	return err.Error()
}

// New returns the httpget checker, for sdk.Serve.
func New() sdk.Checker { return checker{} }
