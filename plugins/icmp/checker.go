// Package icmp checks that an address answers ICMP echo
// (ping).
package icmp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/hasidecar/hasidecar/sdk"
)

type checker struct{}

func (checker) Schema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "address", Type: sdk.String, Required: true, Description: "IPv4 or IPv6 address, or host name, to ping"},
	}}
}

type probe struct{ address string }

func (checker) New(c sdk.Config) (sdk.Probe, sdk.Diagnostics) {
	var cfg struct {
		Address string `json:"address"`
	}
	if err := c.Decode(&cfg); err != nil {
		return nil, sdk.Errorf("", "decoding the configuration: %v", err)
	}
	a := strings.TrimSpace(cfg.Address)
	if ip, err := netip.ParseAddr(a); err == nil {
		if ip.Zone() != "" || ip.IsUnspecified() || ip.IsMulticast() {
			return nil, sdk.Errorf("address", "address %q cannot be pinged: use a unicast address without a zone", cfg.Address)
		}
		return probe{address: ip.Unmap().String()}, nil
	}
	if a == "" || strings.ContainsAny(a, " /:%[]") {
		return nil, sdk.Errorf("address", "address %q is not an IPv4 or IPv6 address or a host name", cfg.Address)
	}
	return probe{address: a}, nil
}

func (p probe) Check(ctx context.Context) sdk.Result {
	dst, err := resolve(ctx, p.address)
	if err != nil {
		return sdk.Unhealthy("%v", err)
	}
	conn, unprivileged, err := listen(dst.Is6())
	if err != nil {
		return sdk.Unhealthy("opening an ICMP socket: %v", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	id, seq := rand.IntN(1<<16), rand.IntN(1<<16)
	var typ, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if dst.Is6() {
		typ, replyType, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("hasidecar")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return sdk.Unhealthy("%v", err)
	}
	var to net.Addr = &net.IPAddr{IP: dst.AsSlice()}
	if unprivileged {
		to = &net.UDPAddr{IP: dst.AsSlice()}
	}
	start := time.Now()
	if _, err := conn.WriteTo(b, to); err != nil {
		return sdk.Unhealthy("sending to %s: %v", dst, errors.Unwrap(err))
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || isTimeout(err) {
				return sdk.Unhealthy("no reply from %s within %v", dst, time.Since(start).Round(time.Millisecond))
			}
			return sdk.Unhealthy("%v", err)
		}
		rm, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || rm.Type != replyType {
			continue // a raw socket sees every ICMP message of the host
		}
		echo, ok := rm.Body.(*icmp.Echo)
		// With an unprivileged socket the kernel rewrites the ID and
		// matches replies itself.
		if !ok || echo.Seq != seq || (!unprivileged && echo.ID != id) || !sameHost(from, dst) {
			continue
		}
		return sdk.Healthy("reply from %s in %v", dst, time.Since(start).Round(10*time.Microsecond))
	}
}

// listen opens an unprivileged ICMP socket where the kernel allows it
// (net.ipv4.ping_group_range, which covers ICMPv6 too), a raw one otherwise
// (root or CAP_NET_RAW).
func listen(v6 bool) (*icmp.PacketConn, bool, error) {
	udp, raw, any := "udp4", "ip4:icmp", "0.0.0.0"
	if v6 {
		udp, raw, any = "udp6", "ip6:ipv6-icmp", "::"
	}
	if c, err := icmp.ListenPacket(udp, any); err == nil {
		return c, true, nil
	}
	c, err := icmp.ListenPacket(raw, any)
	if err != nil {
		return nil, false, fmt.Errorf("%w (allow unprivileged ping with sysctl net.ipv4.ping_group_range, or give the plugin CAP_NET_RAW)", err)
	}
	return c, false, nil
}

func resolve(ctx context.Context, host string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("resolving %s: %v", host, err)
	}
	return ips[0].Unmap(), nil
}

func sameHost(a net.Addr, ip netip.Addr) bool {
	switch a := a.(type) {
	case *net.IPAddr:
		got, _ := netip.AddrFromSlice(a.IP)
		return got.Unmap() == ip
	case *net.UDPAddr:
		got, _ := netip.AddrFromSlice(a.IP)
		return got.Unmap() == ip
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// New returns the icmp checker, for sdk.Serve.
func New() sdk.Checker { return checker{} }
