package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hasidecar/hasidecar/host/drops"
	"github.com/hasidecar/hasidecar/internal/netlab"
)

// TestEveryDropReasonExportedAtZero: a real daemon's /metrics lists every
// drop reason from the start, at 0, for its instance and for its socket,
// and status names the socket.
func TestEveryDropReasonExportedAtZero(t *testing.T) {
	netlab.RequireRoot(t)
	t.Parallel()
	lab := netlab.New(t, 1)
	n1 := lab.Nodes[0]
	d := startHasidecar(t, lab, n1, nodeConfig{Priority: 150, Preempt: true,
		Checks: stateDir(t) + "metrics { listen = \"127.0.0.1:9465\" }\n"})
	waitSoleHolder(t, lab, n1, 15*time.Second)

	var want []string
	for _, r := range drops.InstanceReasons() {
		want = append(want, fmt.Sprintf(`hasidecar_adverts_dropped_total{instance="VI_1",reason=%q} 0`, r.String()))
	}
	for _, r := range drops.SocketReasons() {
		want = append(want, fmt.Sprintf(`hasidecar_socket_dropped_total{interface=%q,mode="multicast",reason=%q,source=%q} 0`,
			n1.Iface, r.String(), n1.Addr))
	}
	out := n1.Run(t, "curl", "-sf", "http://127.0.0.1:9465/metrics")
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	st := d.status(t)
	if len(st.Sockets) != 1 || st.Sockets[0].Interface != n1.Iface || !st.Sockets[0].Multicast || len(st.Sockets[0].Dropped) != 0 {
		t.Errorf("status sockets %+v, want one multicast socket on %s that dropped nothing", st.Sockets, n1.Iface)
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", out)
	}
}
