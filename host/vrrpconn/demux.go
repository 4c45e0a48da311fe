package vrrpconn

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hasidecar/hasidecar/host/timegrid"
)

// endpointQueue is how many packets an endpoint holds for an instance that
// has not read them yet. A full queue drops (and counts) rather than stalls
// the other instances on the socket.
const endpointQueue = 256

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
}

// NewDemux starts reading conn. The Demux owns conn from now on: it closes it
// when the last endpoint leaves.
func NewDemux(conn *Conn) *Demux {
	d := &Demux{conn: conn, endpoints: map[uint8][]*Endpoint{}, done: make(chan struct{})}
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
	d.mu.Unlock()
	if last {
		d.conn.Close()
		<-d.done
	}
}

// A busy socket is read in batches. After a read, a reader that read the
// previous batch less than busyGap ago pauses before it reads again, until
// the next point of the timers' 2 ms grid at least holdoff/2 away (see
// timegrid), so that one recvmmsg(2) collects what arrived meanwhile and
// the process wakes for it together with its timers. At 200 instances and
// 100 ms adverts (2,000 packets a second) that is some 400 reads a second
// instead of a wake-up, a read and an empty read per packet, for packets
// handed on 1-3 ms later. A quiet socket (under about 250 reads a second:
// up to 25 instances at 100 ms, or two at 10 ms) is read as each packet
// arrives.
const (
	holdoff = 2 * time.Millisecond
	busyGap = 2 * holdoff
)

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
		batch, err = d.conn.ReceiveBatch(batch[:0])
		if err != nil {
			d.readErr = err
			return
		}
		now := time.Now()
		for _, pkt := range batch {
			d.dispatch(pkt)
		}
		if now.Sub(last) < busyGap {
			time.Sleep(time.Until(timegrid.Align(now.Add(holdoff/2), holdoff)))
		}
		last = now
	}
}

// dispatch hands one packet to the endpoints of its VRID, or to all when
// none claims it.
func (d *Demux) dispatch(pkt Packet) {
	d.mu.Lock()
	var to []*Endpoint
	if len(pkt.Payload) >= 2 {
		to = d.endpoints[pkt.Payload[1]]
	}
	if len(to) == 0 {
		for _, list := range d.endpoints {
			to = append(to, list...)
		}
	}
	d.mu.Unlock()
	// Endpoints only read Payload; one copy serves them all.
	for _, e := range to {
		if h := e.handler.Load(); h != nil {
			(*h)(pkt)
			continue
		}
		select {
		case e.queue <- pkt:
		default:
			e.overflow.Add(1)
		}
	}
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
	overflow atomic.Uint64
	handler  atomic.Pointer[func(Packet)]
}

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

// Overflows counts packets dropped because the instance did not read them in
// time (its queue of 256 was full).
func (e *Endpoint) Overflows() uint64 { return e.overflow.Load() }

// Close leaves the shared socket, unblocking a pending Receive; the last
// endpoint to leave closes the socket. Calling it again does nothing.
func (e *Endpoint) Close() error {
	e.once.Do(func() {
		close(e.left)
		e.demux.leave(e)
	})
	return nil
}
