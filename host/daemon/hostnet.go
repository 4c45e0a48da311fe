package daemon

import (
	"context"

	"go.uber.org/zap"

	"github.com/hasidecar/hasidecar/host/config"
	"github.com/hasidecar/hasidecar/host/garp"
	"github.com/hasidecar/hasidecar/host/instance"
	"github.com/hasidecar/hasidecar/host/linkwatch"
	"github.com/hasidecar/hasidecar/host/vip"
	"github.com/hasidecar/hasidecar/host/vmac"
)

// hostNet is what the daemon opens on the host for its instances: their
// VRRP sockets, the managers of their addresses, their ARP/NA announcers,
// and the watch on their links. New sets realHost; the daemon's unit tests
// set fakes, so that starting, reloading and stopping instances is tested
// without root.
type hostNet interface {
	// joinSocket opens or joins ic's VRRP socket; see realHost.
	joinSocket(ctx context.Context, ic config.Instance) (conn instance.Conn, holdOn, fault string, err error)
	// addresses manages the virtual addresses on iface.
	addresses(iface string, log *zap.Logger) (addressManager, error)
	// announcer announces them on iface.
	announcer(iface string) (announcer, error)
	// watchLinks reports the named links' state, then its changes.
	watchLinks(ctx context.Context, names []string, log *zap.Logger) (<-chan linkwatch.Event, error)
	// removeVMAC deletes a use_vmac macvlan joinSocket made.
	removeVMAC(name string) error
}

// addressManager is an instance's address manager, closed with it.
type addressManager interface {
	instance.Addresses
	Close() error
}

// announcer is an instance's announcer, closed with it.
type announcer interface {
	instance.Announcer
	Close() error
}

// realHost opens real sockets (shared per interface and mode), netlink
// handles and ARP clients.
type realHost struct{ sockets *sharedSockets }

func (realHost) addresses(iface string, log *zap.Logger) (addressManager, error) {
	return vip.New(iface, log)
}

func (realHost) announcer(iface string) (announcer, error) { return garp.NewAnnouncer(iface) }

func (realHost) removeVMAC(name string) error { return vmac.Remove(name) }

func (realHost) watchLinks(ctx context.Context, names []string, log *zap.Logger) (<-chan linkwatch.Event, error) {
	return linkwatch.Watch(ctx, names, log)
}
