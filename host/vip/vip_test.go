package vip

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/hasidecar/hasidecar/internal/netlab"
	"go.uber.org/zap/zaptest"
)

// newManager builds a Manager inside node's namespace.
func newManager(t *testing.T, node *netlab.Node) *Manager {
	t.Helper()
	var m *Manager
	if err := node.Do(func() error {
		var err error
		m, err = New(node.Iface, zaptest.NewLogger(t))
		return err
	}); err != nil {
		t.Fatalf("%s: New: %v", node.Name, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func mustHave(t *testing.T, m *Manager, p netip.Prefix, want bool) {
	t.Helper()
	got, err := m.Has(p)
	if err != nil {
		t.Fatalf("Has(%s): %v", p, err)
	}
	if got != want {
		t.Fatalf("Has(%s) = %v, want %v", p, got, want)
	}
}

func addresses(t *testing.T, node *netlab.Node) []netip.Prefix {
	t.Helper()
	got, err := node.Addresses()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAddHasRemove(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	node := lab.Nodes[0]
	m := newManager(t, node)

	for _, tc := range []struct {
		name string
		vip  netip.Prefix
	}{
		// Same subnet as the node's 198.51.100.1/24: a secondary.
		{"secondary in the node's subnet", netip.MustParsePrefix("198.51.100.100/24")},
		// A host route: primary of its own /32.
		{"host address", netip.MustParsePrefix("198.51.100.101/32")},
		// Another prefix length is another kernel subnet: a primary.
		{"own subnet", netip.MustParsePrefix("198.51.100.200/25")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustHave(t, m, tc.vip, false)
			// The second Add is a no-op.
			for range 2 {
				if err := m.Add(tc.vip); err != nil {
					t.Fatalf("Add(%s): %v", tc.vip, err)
				}
				mustHave(t, m, tc.vip, true)
			}
			other := netip.PrefixFrom(tc.vip.Addr(), 30)
			mustHave(t, m, other, false) // compared by IP and prefix length
			// The second Remove is a no-op.
			for range 2 {
				if err := m.Remove(tc.vip); err != nil {
					t.Fatalf("Remove(%s): %v", tc.vip, err)
				}
				mustHave(t, m, tc.vip, false)
			}
			if got := addresses(t, node); !slices.Equal(got, []netip.Prefix{node.Prefix}) {
				t.Fatalf("addresses after Remove = %v, want only %s", got, node.Prefix)
			}
		})
	}
}

// TestSecondaryLeavesPrimaryIntact: a VIP in the node's subnet is added as a
// secondary address, keepalived-style (no label, no broadcast), and removing
// it leaves the node's primary address alone.
func TestSecondaryLeavesPrimaryIntact(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	node := lab.Nodes[0]
	m := newManager(t, node)
	vip := netip.MustParsePrefix("198.51.100.100/24")

	if err := m.Add(vip); err != nil {
		t.Fatal(err)
	}
	out := node.Run(t, "ip", "-4", "addr", "show", "dev", node.Iface)
	line := lineWith(out, vip.String())
	if !strings.Contains(line, "secondary") || strings.Contains(line, "brd") {
		t.Errorf("address line %q: want a secondary without broadcast address\n%s", line, out)
	}
	if l := lineWith(out, node.Prefix.String()); strings.Contains(l, "secondary") {
		t.Errorf("node address became secondary: %q", l)
	}
	if err := m.Remove(vip); err != nil {
		t.Fatal(err)
	}
	if !node.HasAddress(t, node.Addr) {
		t.Fatalf("primary %s gone after removing %s", node.Prefix, vip)
	}
	if node.HasAddress(t, vip.Addr()) {
		t.Fatalf("%s still present", vip)
	}
}

// TestRemoveRefusesToTakeForeignSecondaries: removing a primary address
// would make the kernel drop the secondaries of its subnet; Remove refuses
// while one of them is not a virtual address of ours.
func TestRemoveRefusesToTakeForeignSecondaries(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	node := lab.Nodes[0]
	m := newManager(t, node)
	vip := netip.MustParsePrefix("198.51.100.130/25")
	foreign := netip.MustParsePrefix("198.51.100.131/25")

	if err := m.Add(vip); err != nil {
		t.Fatal(err)
	}
	node.Run(t, "ip", "addr", "add", foreign.String(), "dev", node.Iface)

	err := m.Remove(vip)
	if err == nil || !strings.Contains(err.Error(), "refusing") || !strings.Contains(err.Error(), foreign.String()) {
		t.Fatalf("Remove(%s) = %v, want a refusal naming %s", vip, err, foreign)
	}
	for _, p := range []netip.Prefix{node.Prefix, vip, foreign} {
		if !slices.Contains(addresses(t, node), p) {
			t.Errorf("%s missing after the refused Remove", p)
		}
	}

	// Once the other address is a virtual one too, removing is allowed.
	if err := m.Add(foreign); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(vip); err != nil {
		t.Fatalf("Remove(%s): %v", vip, err)
	}
	mustHave(t, m, vip, false)
	if !node.HasAddress(t, node.Addr) {
		t.Fatal("node address gone")
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	node := lab.Nodes[0]
	m := newManager(t, node)
	before := addresses(t, node)

	for _, tc := range []struct {
		name string
		p    netip.Prefix
		want string
	}{
		{"zero prefix", netip.Prefix{}, "invalid address"},
		{"IPv6 multicast", netip.MustParsePrefix("ff02::12/128"), "cannot be a virtual address"},
		{"IPv6 loopback", netip.MustParsePrefix("::1/128"), "cannot be a virtual address"},
		{"multicast", netip.MustParsePrefix("224.0.0.18/32"), "cannot be a virtual address"},
		{"unspecified", netip.MustParsePrefix("0.0.0.0/0"), "cannot be a virtual address"},
		{"loopback", netip.MustParsePrefix("127.0.0.2/8"), "cannot be a virtual address"},
		{"broadcast", netip.MustParsePrefix("255.255.255.255/32"), "cannot be a virtual address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for op, f := range map[string]func(netip.Prefix) error{
				"Add":    m.Add,
				"Remove": m.Remove,
				"Has":    func(p netip.Prefix) error { _, err := m.Has(p); return err },
			} {
				if err := f(tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s(%s) = %v, want error containing %q", op, tc.p, err, tc.want)
				}
			}
		})
	}
	if after := addresses(t, node); !slices.Equal(before, after) {
		t.Errorf("addresses changed by bad input: %v -> %v", before, after)
	}
}

func TestNewUnknownInterface(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	for _, tc := range []struct{ name, iface, want string }{
		{"empty", "", "no interface"},
		{"missing", "nosuch0", "nosuch0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := lab.Nodes[0].Do(func() error {
				m, err := New(tc.iface, nil)
				if err == nil {
					m.Close()
				}
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%q) = %v, want error containing %q", tc.iface, err, tc.want)
			}
		})
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   netip.Prefix
		want netip.Prefix
	}{
		{"kept unmasked", netip.MustParsePrefix("198.51.100.100/24"), netip.MustParsePrefix("198.51.100.100/24")},
		{"4in6 unmapped", netip.MustParsePrefix("::ffff:198.51.100.100/120"), netip.MustParsePrefix("198.51.100.100/24")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checkPrefix(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("checkPrefix(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
}

func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s+" ") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// TestIPv6AddHasRemove: an IPv6 VIP is added without duplicate address
// detection (usable at once, never tentative) and removed again, leaving
// the node's own IPv6 addresses alone.
func TestIPv6AddHasRemove(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, 1)
	node := lab.Nodes[0]
	m := newManager(t, node)
	before, err := node.Addresses6()
	if err != nil {
		t.Fatal(err)
	}
	for _, vip := range []netip.Prefix{
		netip.MustParsePrefix("2001:db8:51::100/64"),
		netip.MustParsePrefix("2001:db8:51::101/128"),
		netip.MustParsePrefix("fe80::51/64"),
	} {
		mustHave(t, m, vip, false)
		for range 2 {
			if err := m.Add(vip); err != nil {
				t.Fatalf("Add(%s): %v", vip, err)
			}
			mustHave(t, m, vip, true)
		}
		out := node.Run(t, "ip", "-6", "addr", "show", "dev", node.Iface)
		line := lineWith(out, vip.String())
		if line == "" || strings.Contains(line, "tentative") {
			t.Errorf("%s: %q, want it present and not tentative in:\n%s", vip, line, out)
		}
		mustHave(t, m, netip.PrefixFrom(vip.Addr(), 96), false)
		for range 2 {
			if err := m.Remove(vip); err != nil {
				t.Fatalf("Remove(%s): %v", vip, err)
			}
			mustHave(t, m, vip, false)
		}
	}
	if after, _ := node.Addresses6(); !slices.Equal(before, after) {
		t.Errorf("IPv6 addresses %v after Remove, want %v", after, before)
	}
}
