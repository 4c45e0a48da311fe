// Package vrrpconn is the VRRP socket of one interface: it sends VRRP
// payloads (IP protocol 112) inside an IPv4 header it builds itself, the way
// keepalived 2.2.7 does, or over IPv6 with the header facts keepalived sends,
// and receives the VRRP packets that arrive on that interface together with
// the IP header facts the protocol checks (source, destination, TTL or hop
// limit, interface).
//
// The socket lives in the network namespace of the thread that calls Open;
// after that it may be used from any goroutine.
package vrrpconn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/hasidecar/hasidecar/host/drops"
	"github.com/hasidecar/hasidecar/host/vrrp/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Protocol is the IP protocol number of VRRP (defined by the codec).
const Protocol = packet.Protocol

// Wire facts of the IPv4 header, as keepalived 2.2.7 sends them (checked
// with tcpdump against Debian's keepalived: tos 0xc0, ttl 255, flags none,
// id filled in by the kernel), in multicast and in unicast mode alike.
const (
	// TTL is the IPv4 TTL of every advertisement; receivers must drop
	// advertisements with any other TTL (RFC 5798 section 7.1).
	TTL = 255
	// TOS is IPTOS_PREC_INTERNETCONTROL (DSCP CS6).
	TOS = 0xc0
)

// MulticastGroup is the IPv4 VRRP multicast address (RFC 5798 section
// 5.1.1.2), as the codec defines it.
var MulticastGroup = packet.MulticastGroup()

// ErrClosed is returned by Receive and Send once the Conn is closed. It is
// net.ErrClosed, so errors.Is works with either name.
var ErrClosed = net.ErrClosed

const (
	// receiveBuffer is the kernel's receive queue for the socket: large
	// enough that a flood of adverts is dropped by us, counted, rather than
	// by the kernel, silently.
	receiveBuffer = 1 << 20
	// maxPacket is the largest IPv4 datagram.
	maxPacket = 1<<16 - 1
)

// Options says where a Conn sends from and what it listens to.
type Options struct {
	// Interface is the interface the Conn is bound to (SO_BINDTODEVICE):
	// it sends only there and sees only packets that arrived there.
	Interface string
	// Source is the address adverts are sent from (keepalived's
	// unicast_source). Zero means the interface's primary IPv4 address (with
	// IPv6: its link-local address) at the time of Open.
	Source netip.Addr
	// Multicast joins 224.0.0.18 (ff02::12) on Interface and receives only packets
	// sent to that group. Without it the Conn receives only packets sent to
	// Source (unicast peers), as keepalived's unicast mode does.
	Multicast bool
	// IPv6 speaks VRRPv3 over IPv6 (ff02::12; without Source, from the
	// interface's link-local address).
	IPv6 bool
}

// Packet is one received VRRP packet.
type Packet struct {
	// Src and Dst are the source and destination addresses.
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL, or the IPv6 hop limit, as received.
	TTL uint8
	// IfIndex is the index of the interface the packet arrived on.
	IfIndex int
	// Payload is the VRRP packet: everything after the IP header, up to
	// the IPv4 header's total length. It is the caller's to keep.
	Payload []byte
	// Received is when Receive read the packet from the socket.
	Received time.Time
}

// Conn is a VRRP socket on one interface. Send may be called from any
// goroutine; Receive and ReceiveBatch from one goroutine at a time.
//
// The socket is not handed to the Go runtime's poller, which would wake the
// process for every packet that arrives, even while nobody is reading (see
// Demux for why a reader pauses). It is watched instead through an epoll
// instance of its own, armed for one event at a time: the runtime polls
// that, and it reports only the first packet after the reader asked.
type Conn struct {
	iface     *net.Interface
	source    netip.Addr
	multicast bool
	v6        bool   // an IPv6 socket (see open6)
	pktinfo   []byte // IPv6: the control message of every send

	// mu guards fd against Close: every system call on fd is made under
	// the read lock, so that a closed descriptor's number, reused by
	// another file, is never read from or written to.
	mu     sync.RWMutex
	fd     int
	closed bool

	ep       int             // the epoll instance watching fd and timer
	watch    *os.File        // ep, owned by the runtime's poller
	watchRaw syscall.RawConn // watch, for waiting in the runtime's poller
	armed    bool            // fd is armed in watch; the reader's own state
	// timer is a timerfd in ep for the reader's deadlines and pauses. A
	// Go timer would do, but the runtime sleeps in whole milliseconds,
	// rounded down, so that a pause of 1-10 ms woke the process twice.
	timer   int
	timerAt time.Time // when timer expires; zero: disarmed

	batch   *batch   // ReceiveBatch's buffers
	pending []Packet // what Receive read and has not returned yet

	delivered atomic.Uint64
	dropped   drops.Counter // socket-level reasons (see Drops)

	closeOnce sync.Once
	closeErr  error
}

// Open creates the VRRP socket described by opts in the current network
// namespace.
func Open(ctx context.Context, opts Options) (*Conn, error) {
	if opts.Interface == "" {
		return nil, errors.New("opening VRRP socket: no interface given")
	}
	iface, err := net.InterfaceByName(opts.Interface)
	if err != nil {
		return nil, fmt.Errorf("opening VRRP socket on %s: %w", opts.Interface, err)
	}
	if opts.IPv6 {
		c := &Conn{iface: iface, multicast: opts.Multicast}
		if err := c.open6(opts.Source, opts.Multicast); err != nil {
			return nil, err
		}
		if err := c.watchSocket(); err != nil {
			unix.Close(c.fd)
			return nil, fmt.Errorf("opening VRRP socket on %s: %w", opts.Interface, err)
		}
		return c, nil
	}
	source := opts.Source.Unmap()
	switch {
	case !source.IsValid():
		if source, err = primaryIPv4(opts.Interface); err != nil {
			return nil, fmt.Errorf("opening VRRP socket on %s: %w", opts.Interface, err)
		}
	case !source.Is4():
		return nil, fmt.Errorf("opening VRRP socket on %s: source %s is not an IPv4 address", opts.Interface, opts.Source)
	case source.IsMulticast() || source.IsUnspecified():
		return nil, fmt.Errorf("opening VRRP socket on %s: source %s is not a unicast address", opts.Interface, source)
	}

	// Bind to the group in multicast mode and to our own address in unicast
	// mode, as keepalived does: each mode then sees only its own traffic.
	bindTo := source
	if opts.Multicast {
		bindTo = MulticastGroup
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, Protocol)
	if err != nil {
		return nil, fmt.Errorf("opening VRRP socket on %s: %w", opts.Interface, err)
	}
	c := &Conn{iface: iface, source: source, multicast: opts.Multicast, fd: fd}
	if err := c.configure(bindTo); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := c.watchSocket(); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("opening VRRP socket on %s: %w", opts.Interface, err)
	}
	return c, nil
}

// configure sets the socket's options and binds it. SO_BINDTODEVICE ties it
// to its interface. SO_RCVBUFFORCE passes net.core.rmem_max, which would cap
// a plain SO_RCVBUF at about 200 KiB; it needs CAP_NET_ADMIN, which a VRRP
// daemon has anyway. IP_MULTICAST_ALL is on by default in Linux and would
// let the socket receive groups joined by other sockets.
func (c *Conn) configure(bindTo netip.Addr) error {
	name := c.iface.Name
	fd := c.fd
	if err := c.bindToDevice(); err != nil {
		return err
	}
	err := c.setOptions(unix.IPPROTO_IP, []sockopt{
		{"clearing IP_MULTICAST_ALL", unix.IP_MULTICAST_ALL, 0},
		{"setting IP_HDRINCL", unix.IP_HDRINCL, 1},
		{"setting TOS", unix.IP_TOS, TOS},
		{"asking for the arrival interface", unix.IP_PKTINFO, 1},
	})
	if err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: bindTo.As4()}); err != nil {
		return fmt.Errorf("opening VRRP socket on %s bound to %s: %w", name, bindTo, err)
	}
	if !c.multicast {
		return nil
	}
	mreq := &unix.IPMreqn{Ifindex: int32(c.iface.Index)}
	if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, mreq); err != nil {
		return fmt.Errorf("setting multicast interface %s: %w", name, err)
	}
	err = c.setOptions(unix.IPPROTO_IP, []sockopt{
		{"setting multicast TTL", unix.IP_MULTICAST_TTL, TTL},
		{"turning multicast loopback off", unix.IP_MULTICAST_LOOP, 0},
	})
	if err != nil {
		return err
	}
	mreq.Multiaddr = MulticastGroup.As4()
	if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
		return fmt.Errorf("joining %s on %s: %w", MulticastGroup, name, err)
	}
	return nil
}

// sockopt is one integer socket option, with what setting it does for the
// error message.
type sockopt struct {
	what       string
	opt, value int
}

// setOptions sets opts at level on the socket.
func (c *Conn) setOptions(level int, opts []sockopt) error {
	for _, o := range opts {
		if err := unix.SetsockoptInt(c.fd, level, o.opt, o.value); err != nil {
			return fmt.Errorf("%s on VRRP socket of %s: %w", o.what, c.iface.Name, err)
		}
	}
	return nil
}

// bindToDevice ties the socket to its interface and sizes its receive
// buffer, as both families start.
func (c *Conn) bindToDevice() error {
	if err := unix.SetsockoptString(c.fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, c.iface.Name); err != nil {
		return fmt.Errorf("binding VRRP socket to device %s: %w", c.iface.Name, err)
	}
	if unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, receiveBuffer) != nil {
		return c.setOptions(unix.SOL_SOCKET, []sockopt{{"setting receive buffer", unix.SO_RCVBUF, receiveBuffer}})
	}
	return nil
}

// watchSocket creates the epoll instance that watches the socket and hands
// it to the runtime's poller.
func (c *Conn) watchSocket() error {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("creating epoll instance: %w", err)
	}
	// The runtime polls only a non-blocking descriptor.
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		return fmt.Errorf("creating epoll instance: %w", err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, c.fd, &unix.EpollEvent{Events: unix.EPOLLONESHOT, Fd: int32(c.fd)}); err != nil {
		unix.Close(ep)
		return fmt.Errorf("watching the socket: %w", err)
	}
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return fmt.Errorf("creating the socket's timer: %w", err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, tfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(tfd)}); err != nil {
		unix.Close(tfd)
		unix.Close(ep)
		return fmt.Errorf("watching the socket's timer: %w", err)
	}
	c.timer = tfd
	// Fd() is never called on watch: it would make ep blocking again.
	c.ep, c.watch = ep, os.NewFile(uintptr(ep), "vrrp-epoll")
	if c.watchRaw, err = c.watch.SyscallConn(); err != nil {
		c.watch.Close()
		unix.Close(tfd)
		return fmt.Errorf("watching the socket: %w", err)
	}
	return nil
}

// primaryIPv4 returns the first IPv4 address of iface that is not a
// secondary one: the address the kernel itself would pick.
func primaryIPv4(iface string) (netip.Addr, error) {
	link, err := netlink.LinkByName(iface)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("finding interface %s: %w", iface, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("listing addresses of %s: %w", iface, err)
	}
	for _, a := range addrs {
		if a.Flags&unix.IFA_F_SECONDARY != 0 {
			continue
		}
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap().Is4() {
			return ip.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no IPv4 address to send VRRP from", iface)
}

// Source returns the address adverts are sent from; VRRPv3's checksum
// covers it through the pseudo-header.
func (c *Conn) Source() netip.Addr { return c.source }

// Interface returns the name of the interface the Conn is bound to.
func (c *Conn) Interface() string { return c.iface.Name }

// Send sends one VRRP payload to dst (224.0.0.18 or a unicast peer) in an
// IPv4 header as keepalived builds it: TOS 0xc0, TTL 255, no DF, protocol
// 112, source Source(). The kernel fills in the ID and the header checksum.
func (c *Conn) Send(payload []byte, dst netip.Addr) error {
	if c.v6 {
		return c.send6(payload, dst)
	}
	dst = dst.Unmap()
	if !dst.Is4() {
		return fmt.Errorf("sending VRRP on %s: destination %s is not an IPv4 address", c.iface.Name, dst)
	}
	if len(payload) > maxPacket-ipv4.HeaderLen {
		return fmt.Errorf("sending VRRP on %s to %s: payload of %d bytes is too large", c.iface.Name, dst, len(payload))
	}
	var hdr [ipv4.HeaderLen]byte
	hdr[0] = ipv4.Version<<4 | ipv4.HeaderLen>>2
	hdr[1] = TOS
	binary.BigEndian.PutUint16(hdr[2:4], uint16(ipv4.HeaderLen+len(payload)))
	hdr[8] = TTL
	hdr[9] = Protocol
	src4, dst4 := c.source.As4(), dst.As4()
	copy(hdr[12:16], src4[:])
	copy(hdr[16:20], dst4[:])
	if err := c.write(hdr[:], payload, dst4); err != nil {
		return fmt.Errorf("sending VRRP on %s to %s: %w", c.iface.Name, dst, err)
	}
	return nil
}

// write sends one datagram, header and payload, to dst with sendmsg(2).
//
// The socket is non-blocking, so the call never blocks and is made as a raw
// system call, unknown to the Go scheduler: announced as an ordinary one, a
// send longer than the scheduler's tick has its processor handed to another
// thread that wakes for nothing (docs/performance.md).
func (c *Conn) write(hdr, payload []byte, dst [4]byte) error {
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst}
	iov := [2]unix.Iovec{{Base: &hdr[0]}, {Base: unsafe.SliceData(payload)}}
	iov[0].SetLen(len(hdr))
	iov[1].SetLen(len(payload))
	msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(&sa)), Namelen: unix.SizeofSockaddrInet4, Iov: &iov[0]}
	msg.SetIovlen(len(iov))
	return c.sendmsg(&msg)
}

// sendmsg makes the sendmsg(2) call of write and send6.
func (c *Conn) sendmsg(msg *unix.Msghdr) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	for {
		_, _, errno := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(c.fd), uintptr(unsafe.Pointer(msg)), 0)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			// The interface's queue is full: the advert is lost, as it
			// would be on the wire, and the next one comes soon.
			return errors.New("send queue full")
		default:
			return errno
		}
	}
}

// Receive blocks until a VRRP packet arrives on the interface and returns
// it. Packets from our own Source() and packets from other interfaces are
// dropped and counted in Stats, never returned. After Close it returns an
// error that matches ErrClosed.
func (c *Conn) Receive() (Packet, error) {
	for len(c.pending) == 0 {
		var err error
		if c.pending, err = c.ReceiveBatch(c.pending[:0]); err != nil {
			return Packet{}, err
		}
	}
	pkt := c.pending[0]
	c.pending = c.pending[1:]
	return pkt, nil
}

// parseDatagram splits what a raw IPv4 socket read into its header, its
// payload and its control messages.
func parseDatagram(b, oob []byte) (*ipv4.Header, []byte, *ipv4.ControlMessage, error) {
	if len(b) < ipv4.HeaderLen {
		return nil, nil, nil, errors.New("shorter than an IPv4 header")
	}
	hl := int(b[0]&0x0f) << 2
	if hl < ipv4.HeaderLen || hl > len(b) {
		return nil, nil, nil, fmt.Errorf("IPv4 header length %d of a %d-byte datagram", hl, len(b))
	}
	h, err := ipv4.ParseHeader(b[:hl])
	if err != nil {
		return nil, nil, nil, err
	}
	var cm *ipv4.ControlMessage
	if len(oob) > 0 {
		cm = new(ipv4.ControlMessage)
		if err := cm.Parse(oob); err != nil {
			return nil, nil, nil, err
		}
	}
	return h, b[hl:], cm, nil
}

// accept turns what the socket read into a Packet, or counts why not.
func (c *Conn) accept(h *ipv4.Header, payload []byte, cm *ipv4.ControlMessage) (Packet, bool) {
	src, okSrc := netip.AddrFromSlice(h.Src.To4())
	dst, okDst := netip.AddrFromSlice(h.Dst.To4())
	end := h.TotalLen - h.Len
	if !okSrc || !okDst || end < 0 || end > len(payload) {
		c.dropped.Add(drops.BadIPHeader)
		return Packet{}, false
	}
	ifIndex := c.iface.Index
	if cm != nil && cm.IfIndex != 0 {
		ifIndex = cm.IfIndex
	}
	if ifIndex != c.iface.Index {
		c.dropped.Add(drops.OtherInterface)
		return Packet{}, false
	}
	if src == c.source {
		c.dropped.Add(drops.OwnSource)
		return Packet{}, false
	}
	return Packet{
		Src:     src,
		Dst:     dst,
		TTL:     uint8(h.TTL),
		IfIndex: ifIndex,
		Payload: append([]byte(nil), payload[:end]...),
	}, true
}

// Close closes the socket, which leaves the multicast group and unblocks a
// pending Receive. Calling it again returns the first result.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.watch.Close() // wakes a reader waiting for the socket
		unix.Close(c.timer)
		if err := unix.Close(c.fd); err != nil {
			c.closeErr = fmt.Errorf("closing VRRP socket of %s: %w", c.iface.Name, err)
		}
	})
	return c.closeErr
}
