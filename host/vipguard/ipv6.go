package vipguard

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"

	"github.com/hasidecar/hasidecar/host/ndp"
)

// etherTypeIPv6 is what the IPv6 socket is bound to; its filter keeps only
// neighbour advertisements, so that the rest of the interface's IPv6
// traffic (adverts, nginx's clients) never reaches the daemon.
const etherTypeIPv6 = 0x86dd

// naFilter accepts Ethernet frames carrying IPv6 (no extension header)
// whose ICMPv6 type is 136, a neighbour advertisement.
var naFilter = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 12, Size: 2},
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: etherTypeIPv6, SkipTrue: 4},
	bpf.LoadAbsolute{Off: 14 + 6, Size: 1},
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 58, SkipTrue: 2},
	bpf.LoadAbsolute{Off: 14 + 40, Size: 1},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 136, SkipTrue: 1},
	bpf.RetConstant{Val: 0},
	bpf.RetConstant{Val: 1514},
}

// listenNA opens the advertisement socket on ifi.
func listenNA(ifi *net.Interface) (*packet.Conn, error) {
	raw, err := bpf.Assemble(naFilter)
	if err != nil {
		return nil, err
	}
	return packet.Listen(ifi, packet.Raw, etherTypeIPv6, &packet.Config{Filter: raw})
}

// ParseAdvertClaim reads a neighbour advertisement frame and returns the
// address it claims and for which MAC, unless that is own or a VRRP
// virtual MAC (00:00:5e:00:01:xx, 00:00:5e:00:02:xx: a use_vmac router,
// ours or a peer's, which VRRP itself arbitrates).
func ParseAdvertClaim(frame []byte, own net.HardwareAddr) (Claim, bool) {
	a, ok := ndp.ParseAdvert(frame)
	if !ok || !a.Target.Is6() || a.Target.IsLinkLocalUnicast() || sameMAC(a.MAC, own) || sameMAC(frame[6:12], own) || virtualMAC(a.MAC) {
		return Claim{}, false
	}
	return Claim{Addr: a.Target, MAC: a.MAC}, true
}

func virtualMAC(m net.HardwareAddr) bool {
	return len(m) == 6 && m[0] == 0 && m[1] == 0 && m[2] == 0x5e && m[3] == 0 && (m[4] == 1 || m[4] == 2)
}

// probe6 sends a duplicate address detection probe for addr: its owner
// defends it with an advertisement, which the IPv6 socket reads.
func (g *Guard) probe6(addr netip.Addr) error {
	f, err := ndp.ProbeFrame(g.mac, addr)
	if err != nil {
		return err
	}
	dst := &packet.Addr{HardwareAddr: net.HardwareAddr(f[0:6])}
	if _, err := g.conn6.WriteTo(f, dst); err != nil {
		return fmt.Errorf("probing for %s on %s: %w", addr, g.iface, err)
	}
	return nil
}
