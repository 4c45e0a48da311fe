package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/instance"
	"github.com/hasidecar/hasidecar/host/vmac"
	"github.com/hasidecar/hasidecar/host/vrrpconn"
)

// joinSocket opens or joins the instance's VRRP socket. An IPv6 instance on
// an interface with no link-local address gets no socket but a stand-in and
// a FAULT reason instead, as keepalived does, rather than stopping the
// daemon: the other instances keep running.
//
// With use_vmac it makes the instance's macvlan first: the socket is on it,
// and holdOn, where the addresses go and are announced from, names it.
func (h realHost) joinSocket(ctx context.Context, ic config.Instance) (conn instance.Conn, holdOn, fault string, err error) {
	opts := vrrpconn.Options{
		Interface: ic.Interface,
		Source:    ic.UnicastSource,
		Multicast: len(ic.UnicastPeers) == 0,
		IPv6:      isIPv6(ic),
	}
	holdOn = ic.Interface
	if ic.UseVMAC {
		if holdOn, err = vmac.Create(ic.Interface, ic.VMACName(), ic.VRID, opts.IPv6); err != nil {
			return nil, "", "", err
		}
		// As keepalived, a multicast socket lives on the macvlan too: a
		// multicast frame from the peer's macvlan carries our own virtual
		// MAC as its source, and Linux hands such frames to our macvlan,
		// never to its parent. Unicast frames are addressed to the
		// parent's MAC and arrive there, so a unicast socket stays on it.
		// vmac_xmit_base keeps it there for multicast too: the peers then
		// send from their own base MACs, which the parent receives.
		if opts.Multicast && !ic.VMACXmitBase {
			if !opts.IPv6 && !opts.Source.IsValid() {
				if opts.Source, err = vrrpconn.PrimaryIPv4(ic.Interface); err != nil {
					vmac.Remove(holdOn)
					return nil, "", "", err
				}
			}
			opts.Interface = holdOn
		}
	}
	e, err := h.sockets.join(ctx, opts, ic.VRID)
	if errors.Is(err, vrrpconn.ErrNoLinkLocal) {
		return newNoSourceConn(), holdOn, fmt.Sprintf("%s has no IPv6 link-local address to send VRRP from "+
			"(give the interface one, or set unicast_source; then `hasidecar reload`)", ic.Interface), nil
	}
	if err != nil {
		if ic.UseVMAC {
			vmac.Remove(holdOn)
		}
		return nil, "", "", err
	}
	return e, holdOn, "", nil
}

// noSourceConn stands in for the socket of an instance that cannot have
// one: it sends nothing and receives nothing until closed.
type noSourceConn struct {
	once   sync.Once
	closed chan struct{}
}

func newNoSourceConn() *noSourceConn { return &noSourceConn{closed: make(chan struct{})} }

// Source is the unspecified address: the instance never gets to advertise.
func (c *noSourceConn) Source() netip.Addr { return netip.IPv6Unspecified() }

func (c *noSourceConn) Send([]byte, netip.Addr) error { return vrrpconn.ErrNoLinkLocal }

func (c *noSourceConn) Receive() (vrrpconn.Packet, error) {
	<-c.closed
	return vrrpconn.Packet{}, vrrpconn.ErrClosed
}

func (c *noSourceConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// isIPv6 reports whether the instance speaks VRRP over IPv6 (its VIPs'
// family).
func isIPv6(ic config.Instance) bool {
	return len(ic.VirtualIPs) > 0 && ic.VirtualIPs[0].Addr().Is6()
}
