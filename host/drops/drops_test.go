package drops

import (
	"slices"
	"sync"
	"testing"

	"github.com/hasidecar/hasidecar/host/vrrp/packet"
)

// Every reason of the codec has a counter of its own, with its label, and
// the socket-level and queue reasons keep theirs.
func TestEveryReasonPresent(t *testing.T) {
	var labels []string
	for _, r := range All() {
		labels = append(labels, r.String())
	}
	for _, pr := range packet.Reasons() {
		if !slices.Contains(labels, string(pr)) {
			t.Errorf("codec reason %q has no counter", pr)
		}
		if got := Of(pr).String(); got != string(pr) {
			t.Errorf("Of(%q) is %q", pr, got)
		}
	}
	for r, want := range map[Reason]string{OwnSource: "own source", OtherInterface: "other interface",
		BadIPHeader: "bad ip header", QueueFull: "receive queue full"} {
		if r.String() != want {
			t.Errorf("reason %d is %q, want %q", r, r, want)
		}
	}
	seen := map[string]bool{}
	for _, l := range labels {
		if seen[l] {
			t.Errorf("label %q twice", l)
		}
		seen[l] = true
	}
	if len(labels) != 4+len(packet.Reasons()) {
		t.Errorf("%d reasons, want %d", len(labels), 4+len(packet.Reasons()))
	}
	// Every reason is counted at one level or both.
	for _, r := range All() {
		if !slices.Contains(SocketReasons(), r) && !slices.Contains(InstanceReasons(), r) {
			t.Errorf("%q is neither a socket nor an instance reason", r)
		}
	}
	if Of("no such reason") != Of(packet.ReasonMalformed) {
		t.Error("an unknown codec reason is not counted as malformed")
	}
}

func TestCounterStartsAtZero(t *testing.T) {
	var c Counter
	for _, r := range All() {
		if n := c.Count(r); n != 0 {
			t.Errorf("%q starts at %d", r, n)
		}
	}
	if m := c.NonZero(); m != nil {
		t.Errorf("NonZero of a new counter = %v", m)
	}
	if n := c.Add(QueueFull); n != 1 {
		t.Errorf("first Add returned %d", n)
	}
	c.Add(Of(packet.ReasonBadChecksum))
	c.Add(Of(packet.ReasonBadChecksum))
	want := map[string]uint64{"receive queue full": 1, "bad checksum": 2}
	if got := c.NonZero(); len(got) != len(want) || got["receive queue full"] != 1 || got["bad checksum"] != 2 {
		t.Errorf("NonZero = %v, want %v", got, want)
	}
}

// Run with -race: the reader and the instance loop count concurrently.
func TestCounterConcurrent(t *testing.T) {
	var c Counter
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c.Add(All()[(w+i)%len(All())])
				_ = c.NonZero()
			}
		}()
	}
	wg.Wait()
	var total uint64
	for _, r := range All() {
		total += c.Count(r)
	}
	if total != workers*each {
		t.Errorf("counted %d, want %d", total, workers*each)
	}
}

func BenchmarkCounterAdd(b *testing.B) {
	var c Counter
	r := Of(packet.ReasonVRIDMismatch)
	for b.Loop() {
		c.Add(r)
	}
}
