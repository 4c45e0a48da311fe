package vrrpconn

import (
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
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
	msgs [batchSize]unix.Mmsghdr
	iovs [batchSize]unix.Iovec
	bufs [batchSize][batchSlot]byte
	oobs [batchSize][]byte
}

func newBatch() *batch {
	b := new(batch)
	for i := range b.msgs {
		b.oobs[i] = ipv4.NewControlMessage(ipv4.FlagInterface)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(batchSlot)
		b.msgs[i].Hdr.Iov = &b.iovs[i]
		b.msgs[i].Hdr.SetIovlen(1)
		b.msgs[i].Hdr.Control = &b.oobs[i][0]
	}
	return b
}

// ReceiveBatch blocks until at least one VRRP packet has arrived, then
// appends to out every packet waiting in the socket, up to 32, read with a
// single system call, and returns out. The packets are checked and counted
// as Receive checks and counts them. Receive and ReceiveBatch must not be
// called at the same time.
func (c *Conn) ReceiveBatch(out []Packet) ([]Packet, error) {
	if c.batch == nil {
		c.batch = newBatch()
	}
	b := c.batch
	for {
		n, err := c.readBatch(b)
		if err != nil {
			return out, fmt.Errorf("receiving VRRP on %s: %w", c.iface.Name, err)
		}
		now := time.Now()
		before := len(out)
		for i := range n {
			m := &b.msgs[i]
			h, payload, cm, err := parseDatagram(b.bufs[i][:m.Len], b.oobs[i][:m.Hdr.Controllen])
			if err != nil {
				c.malformed.Add(1)
				continue
			}
			pkt, ok := c.accept(h, payload, cm)
			if !ok {
				continue
			}
			pkt.Received = now
			out = append(out, pkt)
		}
		if len(out) > before {
			c.delivered.Add(uint64(len(out) - before))
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
func (c *Conn) readBatch(b *batch) (int, error) {
	for i := range b.msgs {
		b.msgs[i].Hdr.SetControllen(len(b.oobs[i])) // the kernel overwrites it
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
		if err := c.waitReadable(); err != nil {
			return 0, err
		}
	}
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

// waitReadable blocks, in the runtime's poller, until the epoll instance
// reports the armed socket readable, and takes the report, which disarms
// the socket.
func (c *Conn) waitReadable() error {
	var operr error
	err := c.watchRaw.Read(func(ep uintptr) bool {
		var ev [1]unix.EpollEvent
		for {
			r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, ep, uintptr(unsafe.Pointer(&ev[0])), 1, 0, 0, 0)
			switch {
			case errno == unix.EINTR:
				continue
			case errno != 0:
				operr = fmt.Errorf("waiting for the socket: %w", errno)
				return true
			case r == 0:
				return false // not yet: wait for the epoll instance to be readable
			default:
				c.armed = false
				return true
			}
		}
	})
	if err != nil {
		c.mu.RLock()
		closed := c.closed
		c.mu.RUnlock()
		if closed {
			return ErrClosed
		}
		return err
	}
	return operr
}
