package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/hasidecar/hasidecar/host/vrrp/packet"
	"github.com/hasidecar/hasidecar/internal/netlab"
)

// forged is one kind of bad packet: its VRRP payload and the TTL it is sent
// with.
type forged struct {
	reason  string // the drop reason the daemon must count
	ttl     int
	payload []byte
}

func forgedPackets(t *testing.T, src netip.Addr) []forged {
	group := packet.MulticastGroup()
	good := func(prio uint8, vrid uint8) []byte {
		ad := packet.Advertisement{Version: 3, VRID: vrid, Priority: prio, Interval: 100 * time.Millisecond,
			Addresses: []netip.Addr{vip.Addr()}}
		b, err := ad.Marshal(src, group)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	badSum := good(254, 51)
	badSum[6] ^= 0xff
	v2 := packet.Advertisement{Version: 2, VRID: 51, Priority: 254, Interval: time.Second,
		Addresses: []netip.Addr{vip.Addr()}, AuthType: packet.AuthPass, AuthData: [8]byte{'w', 'r', 'o', 'n', 'g'}}
	v2b, err := v2.Marshal(src, group)
	if err != nil {
		t.Fatal(err)
	}
	oversized := append(good(254, 51), make([]byte, 1000)...)
	return []forged{
		// A higher priority that would take the VIP, were the TTL not wrong.
		{"bad ttl", 64, good(254, 51)},
		{"bad checksum", 255, badSum},
		{"version mismatch", 255, v2b}, // a v2 packet with a wrong password to a v3 pair
		{"too short", 255, good(254, 51)[:5]},
		{"length mismatch", 255, oversized},
		{"vrid mismatch", 255, good(254, 99)},
	}
}

// TestFloodOfBadPacketsChangesNothing: a client floods the pair's VRRP
// sockets with malformed and forged packets at about 10,000 per second for
// 10 s while the pair runs at 100 ms adverts. No transition, no crash, and
// every kind of drop counted by its reason.
func TestFloodOfBadPacketsChangesNothing(t *testing.T) {
	netlab.RequireRoot(t)
	if testing.Short() {
		t.Skip("10 s flood")
	}
	t.Parallel()
	lab := netlab.New(t, 2)
	n1, n2 := lab.Nodes[0], lab.Nodes[1]
	d1 := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true})
	waitSoleHolder(t, lab, n1, 10*time.Second)
	d2 := startHasidecar(t, lab, n2, nodeConfig{Priority: 100, Preempt: true})
	time.Sleep(time.Second)
	// A packet for a VRID no instance serves is counted by the socket,
	// the others by the instance: together, every drop of each kind.
	dropsOf := func(d *daemon) map[string]uint64 {
		st := d.status(t)
		out := map[string]uint64{}
		for r, n := range st.Instances[0].Dropped {
			out[r] += n
		}
		for _, sk := range st.Sockets {
			for r, n := range sk.Dropped {
				out[r] += n
			}
		}
		return out
	}
	before1, before2 := d1.status(t).Instances[0], d2.status(t).Instances[0]
	drops1, drops2 := dropsOf(d1), dropsOf(d2)
	cpu1, cpu2 := cpuTicks(d1.proc.Pid()), cpuTicks(d2.proc.Pid())

	// A raw socket in the client's namespace, building its own IP headers.
	var rc *ipv4.RawConn
	err := lab.Client.Do(func() error {
		c, err := net.ListenPacket("ip4:112", "0.0.0.0")
		if err != nil {
			return err
		}
		if rc, err = ipv4.NewRawConn(c); err != nil {
			return err
		}
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		return rc.SetMulticastInterface(ifi)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	kinds := forgedPackets(t, lab.Client.Addr)
	dst := net.IP(packet.MulticastGroup().AsSlice())
	start := time.Now()
	sent := 0
	for time.Since(start) < 10*time.Second {
		// Paced to 10,000 packets per second: send what is due, then nap.
		due := int(time.Since(start).Seconds()*10000) - sent
		for i := 0; i < due; i++ {
			k := kinds[sent%len(kinds)]
			h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TOS: 0xc0, TotalLen: ipv4.HeaderLen + len(k.payload),
				TTL: k.ttl, Protocol: packet.Protocol, Src: net.IP(lab.Client.Addr.AsSlice()), Dst: dst}
			if err := rc.WriteTo(h, k.payload, nil); err != nil {
				t.Fatalf("sending: %v", err)
			}
			sent++
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	time.Sleep(500 * time.Millisecond)

	after1, after2 := d1.status(t).Instances[0], d2.status(t).Instances[0]
	t.Logf("sent %d packets in %v (%.0f/s); CPU over the flood: master %.1f%%, backup %.1f%% of a core",
		sent, elapsed.Round(time.Millisecond), float64(sent)/elapsed.Seconds(),
		cpuPercent(cpu1, cpuTicks(d1.proc.Pid()), elapsed), cpuPercent(cpu2, cpuTicks(d2.proc.Pid()), elapsed))
	if after1.Transitions != before1.Transitions || after2.Transitions != before2.Transitions ||
		after1.State != "MASTER" || after2.State != "BACKUP" {
		t.Fatalf("the flood caused transitions: master %+v, backup %+v", after1, after2)
	}
	holdsSteady(t, lab, n1, 500*time.Millisecond)
	for _, st := range []struct {
		name   string
		before map[string]uint64
		after  map[string]uint64
	}{{"master", drops1, dropsOf(d1)}, {"backup", drops2, dropsOf(d2)}} {
		var got []string
		for _, k := range kinds {
			n := st.after[k.reason] - st.before[k.reason]
			got = append(got, fmt.Sprintf("%s=%d", k.reason, n))
			// Most of each kind must arrive and be counted; a few may be
			// lost in the socket buffer, which is fine for a flood.
			if n < uint64(sent/len(kinds)/2) {
				t.Errorf("%s counted %d %q drops of %d sent", st.name, n, k.reason, sent/len(kinds))
			}
		}
		t.Logf("%s drops: %s", st.name, strings.Join(got, " "))
	}
	if d1.proc.Exited() || d2.proc.Exited() {
		t.Fatal("a daemon died under the flood")
	}
}

func cpuPercent(before, after int64, over time.Duration) float64 {
	const ticksPerSecond = 100 // USER_HZ on Linux
	return float64(after-before) / ticksPerSecond / over.Seconds() * 100
}
