package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hasidecar/hasidecar/host/drops"
	"github.com/hasidecar/hasidecar/host/status"
)

var (
	descDropped = prometheus.NewDesc("hasidecar_adverts_dropped_total",
		"Received VRRP packets an instance dropped, by reason (every reason from the start, at 0).",
		[]string{"instance", "reason"}, nil)
	descSocketDropped = prometheus.NewDesc("hasidecar_socket_dropped_total",
		"Received VRRP packets a socket dropped before any instance saw them, by reason (every reason from the start, at 0).",
		[]string{"interface", "source", "mode", "reason"}, nil)
)

// collectDropped exports every reason an instance counts, those it never
// met at 0, so that a dashboard and an alert see the series before the
// first drop.
func collectDropped(ch chan<- prometheus.Metric, in status.InstanceStatus) {
	for _, r := range drops.InstanceReasons() {
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(in.Dropped[r.String()]), in.Name, r.String())
	}
}

// collectSocketDropped does the same for every shared socket.
func collectSocketDropped(ch chan<- prometheus.Metric, sockets []status.SocketStatus) {
	for _, s := range sockets {
		mode := "unicast"
		if s.Multicast {
			mode = "multicast"
		}
		for _, r := range drops.SocketReasons() {
			ch <- prometheus.MustNewConstMetric(descSocketDropped, prometheus.CounterValue, float64(s.Dropped[r.String()]),
				s.Interface, s.Source, mode, r.String())
		}
	}
}
