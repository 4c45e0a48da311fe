package e2e

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/internal/netlab"
)

// TestPreemptingAKeepalivedMasterSaysWhy: hasidecar at 150 without
// fast_preempt joins a keepalived master at 100. As RFC 5798 has it, the
// backup discards the lower master's adverts and takes over when its timer
// runs out; the reason must name the master it preempted, not call a
// master that advertised all along silent.
func TestPreemptingAKeepalivedMasterSaysWhy(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	hn, kn := lab.Nodes[0], lab.Nodes[1]
	kc := nodeConfig{Priority: 100, Preempt: true, AdvertInterval: time.Second}
	keepalivedPeer(t, lab, kn, kc)
	waitSoleHolder(t, lab, kn, 10*time.Second)

	d := startHasidecar(t, lab, hn, nodeConfig{Priority: 150, Preempt: true, AdvertInterval: time.Second,
		InstanceExtra: "  fast_preempt = false\n"})
	waitSoleHolder(t, lab, hn, 15*time.Second)
	st := d.status(t).Instances[0]
	t.Logf("took over: %q (adverts received %d)", st.LastReason, st.AdvertsRecv)
	want := nodeAddr(kn, vip).String() + " advertises priority 100, below our 150: preempting after Master_Down_Interval (3.41s)"
	if !strings.Contains(st.LastReason, want) {
		t.Errorf("reason %q, want it to contain %q", st.LastReason, want)
	}
	if strings.Contains(st.LastReason, "silent") || strings.Contains(st.LastReason, "no advertisement") {
		t.Errorf("reason %q calls an advertising master silent", st.LastReason)
	}
	if st.AdvertsRecv == 0 {
		t.Errorf("no advert of keepalived's was accepted")
	}
}

// TestTakeoverNamesRefusedKeepalivedAdverts: keepalived is master with one
// VIP, hasidecar at a lower priority was given another (a reload half done,
// or two clusters on one VRID). hasidecar refuses keepalived's adverts, as
// the RFC and keepalived do, and takes over after Master_Down_Interval; its
// reason must name the refused adverts and what differs, since that is what
// the operator has to fix, not call the master silent.
func TestTakeoverNamesRefusedKeepalivedAdverts(t *testing.T) {
	netlab.RequireRoot(t)
	netlab.RequireKeepalived(t)
	t.Parallel()
	lab := netlab.New(t, 2)
	hn, kn := lab.Nodes[0], lab.Nodes[1]
	keepalivedPeer(t, lab, kn, nodeConfig{Priority: 150, Preempt: true})
	waitSoleHolder(t, lab, kn, 10*time.Second)

	other := netip.MustParsePrefix("198.51.100.201/24")
	d := startHasidecar(t, lab, hn, nodeConfig{Priority: 100, Preempt: true, VIPs: []netip.Prefix{other}})
	waitSoleHolderOf(t, lab, other.Addr(), hn, 10*time.Second)
	st := d.status(t).Instances[0]
	if st.State != "MASTER" {
		t.Fatalf("hasidecar is %s, want MASTER after refusing keepalived's adverts", st.State)
	}
	t.Logf("took over: %q", st.LastReason)
	want := "advertisements from " + nodeAddr(kn, vip).String() + " were dropped: virtual IPs [" + vip.Addr().String() + "], ours [" + other.Addr().String() + "]"
	if !strings.Contains(st.LastReason, want) {
		t.Errorf("reason %q, want it to contain %q", st.LastReason, want)
	}
}
