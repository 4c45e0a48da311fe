package vrrpconn

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/hasidecar/hasidecar/host/drops"
)

const (
	// batchSize is how many datagrams ReceiveBatch reads with one
	// recvmmsg(2).
	batchSize = 32
	// batchSlot is each datagram's buffer in a batch. The largest VRRP
	// packet (255 IPv4 addresses) is 1,048 bytes with its IPv4 header; a
	// longer datagram is cut short by the kernel and counts as malformed,
	// its total length disagreeing with what arrived.
	batchSlot = 4096
)

// batch is ReceiveBatch's reusable recvmmsg(2) vector, allocated on first
// use so that a Conn read with Receive alone does not carry it.
type batch struct {
	msgs  [batchSize]unix.Mmsghdr
	iovs  [batchSize]unix.Iovec
	bufs  [batchSize][batchSlot]byte
	oobs  [batchSize][]byte
	names [batchSize]unix.RawSockaddrInet6 // the sources, read by IPv6 sockets
}

func newBatch() *batch {
	b := new(batch)
	for i := range b.msgs {
		// Room for IPv6's packet info and hop limit too.
		b.oobs[i] = make([]byte, max(len(ipv4.NewControlMessage(ipv4.FlagInterface)), 2*unix.CmsgSpace(unix.SizeofInet6Pktinfo)))
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(batchSlot)
		b.msgs[i].Hdr.Iov = &b.iovs[i]
		b.msgs[i].Hdr.SetIovlen(1)
		b.msgs[i].Hdr.Control = &b.oobs[i][0]
		b.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	return b
}

// ReceiveBatch blocks until at least one VRRP packet has arrived, then
// appends to out the packets waiting in the socket, read 32 to a system
// call, up to drainReads calls, and returns out. The packets are checked
// and counted as Receive checks and counts them. Receive and ReceiveBatch
// must not be called at the same time.
func (c *Conn) ReceiveBatch(out []Packet) ([]Packet, error) {
	return c.ReceiveBatchUntil(out, time.Time{})
}

// drainReads bounds the reads of one ReceiveBatch. A reader that pauses
// between batches (see Demux) must take more than one batch per wake, or a
// flood fills the socket's buffer, which then drops real adverts with the
// junk (docs/performance.md).
const drainReads = 16

// ReceiveBatchUntil is ReceiveBatch that gives up waiting at deadline (the
// zero time: never). At the deadline it still reads what the socket holds,
// so that a packet that arrived in time is returned; out may then be
// returned with nothing added, and a nil error.
func (c *Conn) ReceiveBatchUntil(out []Packet, deadline time.Time) ([]Packet, error) {
	if c.batch == nil {
		c.batch = newBatch()
	}
	b := c.batch
	start := len(out)
	for reads := 1; ; reads++ {
		n, err := c.readBatch(b, deadline)
		if err != nil {
			return out, fmt.Errorf("receiving VRRP on %s: %w", c.iface.Name, err)
		}
		now := time.Now()
		before := len(out)
		for i := range n {
			m := &b.msgs[i]
			if c.v6 {
				pkt, ok := c.accept6(&b.names[i], b.bufs[i][:m.Len], b.oobs[i][:m.Hdr.Controllen])
				if ok {
					pkt.Received = now
					out = append(out, pkt)
				}
				continue
			}
			h, payload, cm, err := parseDatagram(b.bufs[i][:m.Len], b.oobs[i][:m.Hdr.Controllen])
			if err != nil {
				c.dropped.Add(drops.BadIPHeader)
				continue
			}
			pkt, ok := c.accept(h, payload, cm)
			if !ok {
				continue
			}
			pkt.Received = now
			out = append(out, pkt)
		}
		c.delivered.Add(uint64(len(out) - before))
		if n == len(b.msgs) && reads < drainReads {
			continue // the socket may hold more
		}
		if len(out) > start || (n == 0 && !deadline.IsZero()) {
			return out, nil
		}
	}
}

// readBatch fills b with what the socket holds, waiting for at least one
// datagram, and returns how many it read.
//
// While the socket is disarmed nothing reports new packets, so readBatch
// looks first; only when the socket is empty does it arm it and wait. A
// reader that keeps finding packets never arms it, and so is never woken.
// Arming reports packets that arrived before it, so none is missed.
//
// The socket and the epoll instance are non-blocking, so the calls are raw
// system calls, for the reason given at write.
func (c *Conn) readBatch(b *batch, deadline time.Time) (int, error) {
	for i := range b.msgs {
		b.msgs[i].Hdr.SetControllen(len(b.oobs[i])) // the kernel overwrites it
		b.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.msgs[i].Len = 0
	}
	for {
		if !c.armed {
			n, err := c.recvmmsg(b)
			if err != nil || n > 0 {
				return n, err
			}
			if err := c.arm(); err != nil {
				return 0, err
			}
		}
		readable, err := c.wait(deadline)
		if err != nil {
			return 0, err
		}
		if !readable {
			return c.recvmmsg(b) // the deadline: a last look, armed or not
		}
	}
}

// Pause waits until the time until has come, without reading, and reports
// no new packet meanwhile unless the socket is armed: a reader that just
// read a batch lets the next one build up.
func (c *Conn) Pause(until time.Time) error {
	for time.Now().Before(until) {
		if _, err := c.wait(until); err != nil {
			return err
		}
	}
	return nil
}

// recvmmsg reads what the socket holds into b without waiting; 0 means
// nothing.
func (c *Conn) recvmmsg(b *batch) (int, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return 0, ErrClosed
	}
	for {
		r, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&b.msgs[0])),
			uintptr(len(b.msgs)), 0, 0, 0)
		switch errno {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, nil
		default:
			return 0, errno
		}
	}
}

// arm asks the epoll instance for one report of the socket being readable.
func (c *Conn) arm() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(c.fd)}
	_, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(c.ep), unix.EPOLL_CTL_MOD, uintptr(c.fd),
		uintptr(unsafe.Pointer(&ev)), 0, 0)
	if errno != 0 {
		return fmt.Errorf("arming the socket's epoll instance: %w", errno)
	}
	c.armed = true
	return nil
}

// wait blocks, in the runtime's poller, until the epoll instance reports
// the armed socket readable (true; the report disarms it) or the deadline
// (false; the zero time: none) has passed.
func (c *Conn) wait(deadline time.Time) (readable bool, err error) {
	if err := c.setTimer(deadline); err != nil {
		return false, err
	}
	var operr error
	expired := false
	err = c.watchRaw.Read(func(ep uintptr) bool {
		var ev [2]unix.EpollEvent
		for {
			r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, ep, uintptr(unsafe.Pointer(&ev[0])), uintptr(len(ev)), 0, 0, 0)
			if errno == unix.EINTR {
				continue
			}
			if errno != 0 {
				operr = fmt.Errorf("waiting for the socket: %w", errno)
				return true
			}
			for _, e := range ev[:r] {
				switch int(e.Fd) {
				case c.fd:
					c.armed = false
					readable = true
				case c.timer:
					expired = true
				}
			}
			return readable || expired // nothing yet: wait for the epoll instance
		}
	})
	if err != nil {
		return false, c.closedOr(err)
	}
	if expired {
		operr = errors.Join(operr, c.clearTimer())
	}
	return readable, operr
}

// setTimer arms the timer for at, or disarms it for the zero time.
func (c *Conn) setTimer(at time.Time) error {
	if at.Equal(c.timerAt) {
		return nil
	}
	var spec unix.ItimerSpec
	if !at.IsZero() {
		spec.Value = unix.NsecToTimespec(max(int64(time.Until(at)), 1))
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	_, _, errno := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(c.timer), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("setting the socket's timer: %w", errno)
	}
	c.timerAt = at
	return nil
}

// clearTimer reads the expired timer, which stops it reporting.
func (c *Conn) clearTimer() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	var buf [8]byte
	_, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(c.timer), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if errno != 0 && errno != unix.EAGAIN {
		return fmt.Errorf("reading the socket's timer: %w", errno)
	}
	c.timerAt = time.Time{}
	return nil
}

// closedOr returns ErrClosed if the Conn was closed, which explains err.
func (c *Conn) closedOr(err error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	return err
}
