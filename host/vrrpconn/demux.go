package vrrpconn

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hasidecar/hasidecar/host/drops"
	"github.com/hasidecar/hasidecar/host/vrrp/packet"
)

// endpointQueue is how many packets an endpoint holds for an instance that
// has not read them yet. A full queue drops (and counts) rather than stalls
// the other instances on the socket. An instance hears one advert per
// interval from each peer, so 32 is ample; a queue is allocated whole and
// scanned by every garbage collection, and 200 queues of 256 made a fifth
// of the daemon's heap.
const endpointQueue = 32

// Demux shares one Conn among the VRRP instances of an interface, as
// keepalived shares one socket per interface: each packet is read once and
// handed to the instances of its VRID, instead of every instance's socket
// receiving, copying and parsing every other instance's adverts. At 200
// instances that is the difference between 2,000 and 400,000 packets a
// second to look at.
//
// A packet too short to carry a VRID, or for a VRID no instance has, goes to
// every instance, so that each counts it as it would on a socket of its own
// (truncated, VRID mismatch).
type Demux struct {
	conn *Conn

	mu        sync.Mutex
	endpoints map[uint8][]*Endpoint
	closed    bool

	done    chan struct{} // closed when the reader has stopped
	readErr error         // why it stopped; set before done is closed

	// Endpoints' deadlines (see Endpoint.WatchUntil) are kept as
	// nanoseconds since base, in atomics the instances and the reader
	// share. checkAt is no later than the earliest of them, 0 for none:
	// deadlines only move later, so the reader looks at them all only
	// when checkAt has passed.
	base    time.Time
	checkAt atomic.Int64

	holdoff atomic.Int64 // the reader's pause, a time.Duration
}

// NewDemux starts reading conn. The Demux owns conn from now on: it closes it
// when the last endpoint leaves.
func NewDemux(conn *Conn) *Demux {
	d := &Demux{conn: conn, endpoints: map[uint8][]*Endpoint{}, done: make(chan struct{}), base: time.Now()}
	d.holdoff.Store(int64(maxHoldoff))
	go d.read()
	return d
}

// ErrDemuxClosed is returned by Join once the last endpoint has left and the
// socket is closed: the caller opens a new one.
var ErrDemuxClosed = errors.New("vrrpconn: shared socket already closed")

// Join returns the endpoint of one instance, which receives the packets of
// vrid. Two endpoints may share a VRID for a moment, while a reload replaces
// an instance; both receive its packets.
func (d *Demux) Join(vrid uint8) (*Endpoint, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrDemuxClosed
	}
	e := &Endpoint{demux: d, vrid: vrid, queue: make(chan Packet, endpointQueue), left: make(chan struct{})}
	d.endpoints[vrid] = append(d.endpoints[vrid], e)
	return e, nil
}

// Conn returns the shared socket, for its Stats.
func (d *Demux) Conn() *Conn { return d.conn }

func (d *Demux) leave(e *Endpoint) {
	d.mu.Lock()
	list := d.endpoints[e.vrid]
	for i, x := range list {
		if x == e {
			// Into a new array: the reader may be walking the old one.
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(d.endpoints, e.vrid)
	} else {
		d.endpoints[e.vrid] = list
	}
	last := len(d.endpoints) == 0 && !d.closed
	if last {
		d.closed = true
	}
	d.setHoldoff()
	d.mu.Unlock()
	if last {
		d.conn.Close()
		<-d.done
	}
}

// A busy socket is read in batches. After a read, a reader that read the
// previous batch less than two pauses ago pauses before it reads again, so
// that one recvmmsg(2) collects what arrived meanwhile instead of a wake-up,
// a read and an empty read per packet. The pause is a twentieth of the
// shortest advert interval of the socket's instances (see Endpoint.Paced),
// at most maxHoldoff (figures in docs/performance.md). A backup does not wait for its master's unchanged adverts anyway (see
// OnExpiry); the pause delays only news, such as a master lowering its
// priority or resigning. A quiet socket (fewer than one read per two
// pauses) is read as each packet arrives.
const maxHoldoff = 5 * time.Millisecond

// read hands every packet to its endpoints until the socket is closed or
// fails.
func (d *Demux) read() {
	defer close(d.done)
	var (
		batch []Packet
		last  time.Time // when the previous batch was read
		err   error
	)
	for {
		batch, err = d.conn.ReceiveBatchUntil(batch[:0], d.nextCheck())
		if err != nil {
			d.readErr = err
			return
		}
		now := time.Now()
		for _, pkt := range batch {
			d.dispatch(pkt)
		}
		d.expire(now)
		if holdoff := time.Duration(d.holdoff.Load()); len(batch) > 0 && now.Sub(last) < 2*holdoff {
			wake := now.Add(holdoff)
			if c := d.nextCheck(); !c.IsZero() && c.Before(wake) {
				wake = c
			}
			if err := d.conn.Pause(wake); err != nil {
				d.readErr = err
				return
			}
		}
		if len(batch) > 0 {
			last = now
		}
	}
}

// setHoldoff sets the reader's pause from the endpoints' intervals. d.mu
// is held.
func (d *Demux) setHoldoff() {
	h := maxHoldoff
	for _, list := range d.endpoints {
		for _, e := range list {
			if iv := time.Duration(e.interval.Load()); iv > 0 {
				h = min(h, iv/20)
			}
		}
	}
	d.holdoff.Store(int64(h))
}

// nextCheck is when the reader must next look at the deadlines, or the
// zero time.
func (d *Demux) nextCheck() time.Time {
	if at := d.checkAt.Load(); at != 0 {
		return d.base.Add(time.Duration(at))
	}
	return time.Time{}
}

// expire calls the expiry function of every endpoint whose deadline has
// passed by now, after the packets read until now were dispatched (and may
// have moved it), and clears that deadline.
func (d *Demux) expire(now time.Time) {
	at, nowNS := d.checkAt.Load(), int64(now.Sub(d.base))
	if at == 0 || nowNS < at {
		return
	}
	var earliest int64
	d.mu.Lock()
	var due []*Endpoint
	// Taken before the scan: a deadline set during it lowers checkAt
	// again, and is seen next time.
	d.checkAt.Store(0)
	for _, list := range d.endpoints {
		for _, e := range list {
			switch t := e.deadline.Load(); {
			case t == 0:
			case t <= nowNS:
				if e.deadline.CompareAndSwap(t, 0) {
					due = append(due, e)
				}
			case earliest == 0 || t < earliest:
				earliest = t
			}
		}
	}
	d.mu.Unlock()
	if earliest != 0 {
		d.lowerCheck(earliest)
	}
	for _, e := range due {
		if f := e.expiry.Load(); f != nil {
			(*f)()
		}
	}
}

// lowerCheck makes checkAt no later than at.
func (d *Demux) lowerCheck(at int64) {
	for {
		cur := d.checkAt.Load()
		if cur != 0 && cur <= at {
			return
		}
		if d.checkAt.CompareAndSwap(cur, at) {
			return
		}
	}
}

// Closed reports whether the last endpoint left and the socket is closed.
func (d *Demux) Closed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// dispatch hands one packet to the endpoints of its VRID. One that no
// endpoint claims is dropped and counted once, at the socket.
func (d *Demux) dispatch(pkt Packet) {
	d.mu.Lock()
	var to []*Endpoint
	if len(pkt.Payload) >= 2 {
		to = d.endpoints[pkt.Payload[1]]
	}
	d.mu.Unlock()
	if len(to) == 0 {
		d.conn.dropped.Add(unclaimed(pkt))
		return
	}
	// Endpoints only read Payload; one copy serves them all.
	for _, e := range to {
		if h := e.handler.Load(); h != nil {
			(*h)(pkt)
			continue
		}
		select {
		case e.queue <- pkt:
		default:
			e.dropped.Add(drops.QueueFull)
		}
	}
}

// unclaimed is why a packet that no instance on the socket serves is
// dropped: another router's advert, or a packet that does not decode.
func unclaimed(pkt Packet) drops.Reason {
	if _, err := packet.Unmarshal(pkt.Payload, pkt.Src, pkt.Dst); err != nil {
		return drops.Of(packet.ReasonOf(err))
	}
	return drops.Of(packet.ReasonVRIDMismatch)
}

// Endpoint is one instance's view of a shared socket: it sends through the
// socket and receives the packets of its VRID. It satisfies the same methods
// as Conn.
type Endpoint struct {
	demux    *Demux
	vrid     uint8
	queue    chan Packet
	left     chan struct{}
	once     sync.Once
	dropped  drops.Counter // the instance's (see Drops)
	handler  atomic.Pointer[func(Packet)]
	expiry   atomic.Pointer[func()]
	deadline atomic.Int64 // nanoseconds since the demux's base; 0: none
	interval atomic.Int64 // the instance's advert interval, a time.Duration
}

// Paced tells the reader the instance's advert interval, which bounds how
// long a busy socket's reader pauses between reads (a twentieth of the
// shortest interval of the socket's instances).
func (e *Endpoint) Paced(interval time.Duration) {
	d := e.demux
	d.mu.Lock()
	defer d.mu.Unlock()
	e.interval.Store(int64(interval))
	d.setHoldoff()
}

// OnExpiry makes the reader call f, on its goroutine, when the deadline set
// with WatchUntil passes. f must not block.
//
// A backup learns from the adverts it receives that its master is alive;
// with a deadline the reader watches instead of a timer of its own, a
// backup whose master keeps advertising never wakes. The reader decides
// only after reading what the socket holds, so a packet that arrived in
// time is never taken for a missing one.
func (e *Endpoint) OnExpiry(f func()) { e.expiry.Store(&f) }

// WatchUntil moves the endpoint's deadline to at if that is later than the
// deadline it has, or if it has none. When the deadline passes, the reader
// clears it and calls the function given to OnExpiry.
func (e *Endpoint) WatchUntil(at time.Time) {
	ns := max(int64(at.Sub(e.demux.base)), 1)
	for {
		cur := e.deadline.Load()
		if cur >= ns {
			return
		}
		if e.deadline.CompareAndSwap(cur, ns) {
			break
		}
	}
	e.demux.lowerCheck(ns)
}

// Unwatch clears the endpoint's deadline.
func (e *Endpoint) Unwatch() { e.deadline.Store(0) }

// Handle makes the reader call h with each packet for this endpoint, on the
// reader's goroutine, instead of queuing it for Receive: one goroutine hop
// less per packet, which at 200 instances is most of a backup's work. h must
// not block. Receive then returns only when the endpoint is closed or the
// socket fails.
func (e *Endpoint) Handle(h func(Packet)) { e.handler.Store(&h) }

// Source returns the address adverts are sent from.
func (e *Endpoint) Source() netip.Addr { return e.demux.conn.Source() }

// Send sends one VRRP payload through the shared socket.
func (e *Endpoint) Send(payload []byte, dst netip.Addr) error {
	select {
	case <-e.left:
		return ErrClosed
	default:
	}
	return e.demux.conn.Send(payload, dst)
}

// Receive returns the next packet for this endpoint's VRID (or one no
// instance claims). After Close it returns ErrClosed; if the socket failed,
// the socket's error.
func (e *Endpoint) Receive() (Packet, error) {
	select {
	case pkt := <-e.queue:
		return pkt, nil
	case <-e.left:
		return Packet{}, ErrClosed
	case <-e.demux.done:
		// Deliver what was queued before the socket stopped.
		select {
		case pkt := <-e.queue:
			return pkt, nil
		default:
		}
		if err := e.demux.readErr; err != nil && !errors.Is(err, ErrClosed) {
			return Packet{}, err
		}
		return Packet{}, ErrClosed
	}
}

// Close leaves the shared socket, unblocking a pending Receive; the last
// endpoint to leave closes the socket. Calling it again does nothing.
func (e *Endpoint) Close() error {
	e.once.Do(func() {
		close(e.left)
		e.demux.leave(e)
	})
	return nil
}
