package main

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// cmdGenhash prints the MD5 digest of a page's body in keepalived genhash's
// form, for the httpget plugin's digest key.
func cmdGenhash(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("genhash", stderr)
	rawURL := fs.String("url", "", "page to fetch (http or https)")
	host := fs.String("host", "", "Host header and TLS server name (default: from the URL)")
	insecure := fs.Bool("insecure", false, "do not verify the server's TLS certificate")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	anyStatus := fs.Bool("any-status", false, "print the digest whatever the HTTP status (by default a status other than 2xx exits 1 without one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	u, err := url.Parse(*rawURL)
	if *rawURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintln(stderr, "hasidecar genhash: --url must be an http:// or https:// URL, e.g. --url http://127.0.0.1/healthz")
		return errUsage
	}
	sum, status, err := digest(context.Background(), u, *host, *insecure, *timeout)
	if err != nil {
		return err
	}
	// The status comes first: httpget checks it apart from the digest, and
	// the digest of an error page would pin the error.
	fmt.Fprintf(stdout, "HTTP %s\n", status)
	if code := statusCode(status); (code < 200 || code > 299) && !*anyStatus {
		fmt.Fprintf(stderr, "hasidecar genhash: %s answered HTTP %s, not a page to pin: fix the URL (or the server), or pass --any-status to print its digest anyway\n", u, status)
		return errReported
	}
	fmt.Fprintf(stdout, "MD5SUM = %s\n", sum)
	return nil
}

// statusCode is the number that starts a status line such as "404 Not Found".
func statusCode(status string) int {
	var code int
	fmt.Sscanf(status, "%d", &code)
	return code
}

// digest fetches u and returns the MD5 of its body and its status line
// without the protocol ("404 Not Found").
func digest(ctx context.Context, u *url.URL, host string, insecure bool, timeout time.Duration) (string, string, error) {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: insecure, ServerName: host},
		DisableKeepAlives: true,
		Proxy:             nil, // a health check never goes through a proxy
	}
	client := &http.Client{Transport: tr, Timeout: timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", "", err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("fetching %s: %w", u, err)
	}
	defer resp.Body.Close()
	h := md5.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return "", "", fmt.Errorf("reading %s: %w", u, err)
	}
	return hex.EncodeToString(h.Sum(nil)), resp.Status, nil
}
