package netlab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// httpClient returns a client whose connections are opened inside n's
// namespace, one fresh connection per request (as a user's browser would see
// a failover: no connection reuse hides it).
func (n *Node) httpClient(timeout time.Duration) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := n.Do(func() error {
			var err error
			d := net.Dialer{Timeout: timeout}
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true, Proxy: nil},
	}
}

// HTTPGet fetches url from inside n's namespace and returns the status code
// and body.
func (n *Node) HTTPGet(url string, timeout time.Duration) (int, string, error) {
	resp, err := n.httpClient(timeout).Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), err
}

// HTTPStats is what an HTTPProber saw.
type HTTPStats struct {
	Sent, OK int
	// LongestGap is the longest time between two consecutive successful
	// answers: what a user of the service felt as an outage.
	LongestGap time.Duration
	// ServedBy counts successful answers by body (each lab nginx answers
	// with its node's name).
	ServedBy map[string]int
	LastBody string
}

// HTTPProber sends a GET to one URL from a node at a fixed rate.
type HTTPProber struct {
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	stats   HTTPStats
	lastOK  time.Time
	started time.Time
}

// StartHTTPProber sends GET url from n every `every` (each with a timeout of
// `every` × 5, at most 1s) until Stop, the end of the test, or five minutes.
func (n *Node) StartHTTPProber(t testing.TB, url string, every time.Duration) *HTTPProber {
	p := &HTTPProber{stop: make(chan struct{}), done: make(chan struct{}), started: time.Now(),
		stats: HTTPStats{ServedBy: map[string]int{}}}
	client := n.httpClient(min(5*every, time.Second))
	go func() {
		defer close(p.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		limit := time.After(5 * time.Minute)
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			select {
			case <-p.stop:
				return
			case <-limit:
				return
			case <-tick.C:
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.once1(client, url)
			}()
		}
	}()
	t.Cleanup(func() { p.Stop() })
	return p
}

func (p *HTTPProber) once1(client *http.Client, url string) {
	p.mu.Lock()
	p.stats.Sent++
	p.mu.Unlock()
	resp, err := client.Get(url)
	if err != nil {
		return
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return
	}
	now := time.Now()
	body := strings.TrimSpace(string(b))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.OK++
	p.stats.ServedBy[body]++
	p.stats.LastBody = body
	if !p.lastOK.IsZero() {
		if gap := now.Sub(p.lastOK); gap > p.stats.LongestGap {
			p.stats.LongestGap = gap
		}
	}
	if now.After(p.lastOK) {
		p.lastOK = now
	}
}

// Stats returns the figures so far.
func (p *HTTPProber) Stats() HTTPStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.ServedBy = make(map[string]int, len(p.stats.ServedBy))
	for k, v := range p.stats.ServedBy {
		s.ServedBy[k] = v
	}
	return s
}

// Stop ends the probing, waits for requests in flight and returns the
// figures. Safe to call twice.
func (p *HTTPProber) Stop() HTTPStats {
	p.once.Do(func() { close(p.stop) })
	<-p.done
	return p.Stats()
}

// String summarises the figures for a test log.
func (s HTTPStats) String() string {
	return fmt.Sprintf("%d/%d ok, longest gap %v, served by %v", s.OK, s.Sent, s.LongestGap, s.ServedBy)
}
