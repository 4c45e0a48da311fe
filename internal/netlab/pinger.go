package netlab

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingerMaxDuration stops a forgotten pinger by itself.
const pingerMaxDuration = 5 * time.Minute

// icmpProtocolIPv4 is the IP protocol number of ICMP, for icmp.ParseMessage.
const icmpProtocolIPv4 = 1

// icmpProtocolIPv6 is the IPv6 next header of ICMPv6.
const icmpProtocolIPv6 = 58

// PingStats is what a client felt while a Pinger ran.
type PingStats struct {
	// Sent and Received count echo requests and their first replies.
	Sent, Received int
	// Duplicates counts further replies to an already answered request
	// (for example two nodes both holding the target address).
	Duplicates int
	// SendErrors counts requests the kernel refused to send.
	SendErrors int
	// LongestGap is the longest interval between consecutive successful
	// replies, by receive time: the outage a user would have seen.
	LongestGap time.Duration
	// FirstReply and LastReply are the receive times of the first and last
	// successful replies; zero when there was none.
	FirstReply, LastReply time.Time
}

// Pinger sends ICMP echo requests from a node's namespace at a fixed rate and
// records the replies. Its socket is opened inside the namespace and used
// from ordinary goroutines afterwards.
type Pinger struct {
	conn   *icmp.PacketConn
	target netip.Addr
	id     int
	every  time.Duration

	stop        chan struct{}
	stopOnce    sync.Once
	sendDone    chan struct{}
	receiveDone chan struct{}

	mu      sync.Mutex
	stats   PingStats
	replied map[int]bool // seq -> already answered; key present = sent
}

// StartPinger pings target from n every `every` until Stop, the end of the
// test, or five minutes, whichever comes first.
func (n *Node) StartPinger(t testing.TB, target netip.Addr, every time.Duration) *Pinger {
	t.Helper()
	p, err := n.startPinger(target, every)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

func (n *Node) startPinger(target netip.Addr, every time.Duration) (*Pinger, error) {
	if !target.IsValid() || target.Zone() != "" {
		return nil, fmt.Errorf("pinger target %s: not an address without a zone", target)
	}
	if every <= 0 {
		return nil, fmt.Errorf("pinger interval %v: must be positive", every)
	}
	var conn *icmp.PacketConn
	err := n.Do(func() error {
		var err error
		if target.Is6() {
			conn, err = icmp.ListenPacket("ip6:ipv6-icmp", "::")
		} else {
			conn, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: opening ICMP socket: %w", n.Name, err)
	}
	var idBytes [2]byte
	if _, err := rand.Read(idBytes[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("choosing an ICMP id: %w", err)
	}
	p := &Pinger{
		conn:        conn,
		target:      target,
		id:          int(binary.BigEndian.Uint16(idBytes[:])),
		every:       every,
		stop:        make(chan struct{}),
		sendDone:    make(chan struct{}),
		receiveDone: make(chan struct{}),
		replied:     map[int]bool{},
	}
	go p.send()
	go p.receive()
	return p, nil
}

// send writes one echo request per interval until stopped or out of time.
func (p *Pinger) send() {
	defer close(p.sendDone)
	ticker := time.NewTicker(p.every)
	defer ticker.Stop()
	giveUp := time.NewTimer(pingerMaxDuration)
	defer giveUp.Stop()
	dst := &net.IPAddr{IP: p.target.AsSlice()}
	for seq := 0; ; seq = (seq + 1) & 0xffff {
		var typ icmp.Type = ipv4.ICMPTypeEcho
		if p.target.Is6() {
			typ = ipv6.ICMPTypeEchoRequest // the kernel fills in the checksum
		}
		msg := icmp.Message{
			Type: typ,
			Body: &icmp.Echo{ID: p.id, Seq: seq, Data: []byte("netlab")},
		}
		b, err := msg.Marshal(nil)
		if err != nil {
			return // cannot happen for an echo; nothing sensible to do
		}
		p.mu.Lock()
		p.replied[seq] = false // after a wrap this forgets the old request
		p.stats.Sent++
		p.mu.Unlock()
		if _, err := p.conn.WriteTo(b, dst); err != nil {
			p.mu.Lock()
			p.stats.SendErrors++
			p.mu.Unlock()
		}
		select {
		case <-p.stop:
			return
		case <-giveUp.C:
			return
		case <-ticker.C:
		}
	}
}

// receive reads replies until the socket is closed by Stop.
func (p *Pinger) receive() {
	defer close(p.receiveDone)
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(time.Millisecond) // a persistent error must not spin
			continue
		}
		at := time.Now()
		proto, reply := icmpProtocolIPv4, icmp.Type(ipv4.ICMPTypeEchoReply)
		if p.target.Is6() {
			proto, reply = icmpProtocolIPv6, ipv6.ICMPTypeEchoReply
		}
		msg, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || msg.Type != reply {
			continue
		}
		echo, ok := msg.Body.(*icmp.Echo)
		if !ok || echo.ID != p.id {
			continue
		}
		if ip, ok := from.(*net.IPAddr); !ok || !ip.IP.Equal(p.target.AsSlice()) {
			continue
		}
		p.record(echo.Seq, at)
	}
}

// record accounts one reply for seq received at time at.
func (p *Pinger) record(seq int, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	answered, sent := p.replied[seq]
	switch {
	case !sent:
		return
	case answered:
		p.stats.Duplicates++
		return
	}
	p.replied[seq] = true
	p.stats.Received++
	if p.stats.FirstReply.IsZero() {
		p.stats.FirstReply = at
	} else if gap := at.Sub(p.stats.LastReply); gap > p.stats.LongestGap {
		p.stats.LongestGap = gap
	}
	p.stats.LastReply = at
}

// Stats returns the figures so far without stopping the pinger.
func (p *Pinger) Stats() PingStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Stop stops sending, closes the socket and returns the final figures. It may
// be called more than once.
func (p *Pinger) Stop() PingStats {
	p.stopOnce.Do(func() {
		close(p.stop)
		<-p.sendDone
		p.conn.Close() // unblocks the reader
		<-p.receiveDone
	})
	return p.Stats()
}

// Ping reports whether target answers an ICMP echo from n within timeout,
// sending a request every 50ms meanwhile.
func (n *Node) Ping(target netip.Addr, timeout time.Duration) error {
	p, err := n.startPinger(target, 50*time.Millisecond)
	if err != nil {
		return err
	}
	defer p.Stop()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.Stats().Received > 0 {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := p.Stop()
	if s.Received > 0 {
		return nil
	}
	return fmt.Errorf("%s: no echo reply from %s within %v (%d sent)", n.Name, target, timeout, s.Sent)
}
