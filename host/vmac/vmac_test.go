package vmac

import (
	"fmt"
	"testing"

	"github.com/hasidecar/hasidecar/internal/netlab"
	"github.com/vishvananda/netlink"
)

// TestCreateLeavesOtherInterfaces: a name taken by an interface that is not
// a virtual router's macvlan is an error, and the interface stays; a
// custom name is made and taken over like the default one.
func TestCreateLeavesOtherInterfaces(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	n := lab.Nodes[0]
	n.Run(t, "ip", "link", "add", "other0", "type", "veth", "peer", "name", "other1")
	if err := n.Do(func() error {
		if _, err := Create(n.Iface, "other0", 51, false); err == nil {
			t.Error("Create took over a veth interface")
		}
		if _, err := netlink.LinkByName("other0"); err != nil {
			t.Errorf("other0 is gone: %v", err)
		}
		for range 2 {
			name, err := Create(n.Iface, "vip51", 51, false)
			if err != nil || name != "vip51" {
				return fmt.Errorf("Create vip51: %q, %v", name, err)
			}
		}
		return Remove("vip51")
	}); err != nil {
		t.Fatal(err)
	}
}

// name51 is the daemon's default name of VRID 51's macvlan.
func name51(v6 bool) string {
	if v6 {
		return "vrrp6.51"
	}
	return "vrrp.51"
}

func TestMAC(t *testing.T) {
	if MAC(51, false).String() != "00:00:5e:00:01:33" || MAC(1, true).String() != "00:00:5e:00:02:01" {
		t.Errorf("MACs %s %s", MAC(51, false), MAC(1, true))
	}
}

// TestCreateRemove makes the macvlan of each family in a lab node, takes
// it over a second time, and removes it.
func TestCreateRemove(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	n := lab.Nodes[0]
	for _, v6 := range []bool{false, true} {
		if err := n.Do(func() error {
			for i := range 2 { // the second time takes the first one over
				if i == 1 && !v6 {
					// As an older build left it: with a link-local
					// address, which the takeover removes.
					l, err := netlink.LinkByName("vrrp.51")
					if err != nil {
						return err
					}
					ll, _ := netlink.ParseAddr("fe80::200:5eff:fe00:133/64")
					if err := netlink.AddrAdd(l, ll); err != nil {
						return err
					}
				}
				name, err := Create(n.Iface, name51(v6), 51, v6)
				if err != nil {
					return err
				}
				l, err := netlink.LinkByName(name)
				if err != nil {
					return err
				}
				mv, ok := l.(*netlink.Macvlan)
				if !ok || mv.Mode != netlink.MACVLAN_MODE_PRIVATE || mv.HardwareAddr.String() != MAC(51, v6).String() ||
					l.Attrs().Flags&1 == 0 {
					t.Errorf("%s: %+v", name, l.Attrs())
				}
				addrs, _ := netlink.AddrList(l, netlink.FAMILY_V6)
				if v6 && (len(addrs) != 1 || !addrs[0].IP.IsLinkLocalUnicast()) {
					t.Errorf("%s: addresses %v, want the parent's link-local alone", name, addrs)
				}
				if !v6 && len(addrs) != 0 {
					t.Errorf("%s (take %d): IPv6 addresses %v, want none", name, i+1, addrs)
				}
			}
			if err := Remove(name51(v6)); err != nil {
				return err
			}
			if _, err := netlink.LinkByName(name51(v6)); err == nil {
				t.Errorf("%s still there", name51(v6))
			}
			return Remove(name51(v6)) // gone already: success
		}); err != nil {
			t.Fatal(err)
		}
	}
}
