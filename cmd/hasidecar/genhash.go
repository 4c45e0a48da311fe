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
	if status < 200 || status > 299 {
		fmt.Fprintf(stderr, "note: %s answered HTTP %d; the digest is of that answer's body\n", u, status)
	}
	fmt.Fprintf(stdout, "MD5SUM = %s\n", sum)
	return nil
}

func digest(ctx context.Context, u *url.URL, host string, insecure bool, timeout time.Duration) (string, int, error) {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: insecure, ServerName: host},
		DisableKeepAlives: true,
		Proxy:             nil, // a health check never goes through a proxy
	}
	client := &http.Client{Transport: tr, Timeout: timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", 0, err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("fetching %s: %w", u, err)
	}
	defer resp.Body.Close()
	h := md5.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return "", 0, fmt.Errorf("reading %s: %w", u, err)
	}
	return hex.EncodeToString(h.Sum(nil)), resp.StatusCode, nil
}
