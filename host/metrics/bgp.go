package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	descBGPPeerUp = prometheus.NewDesc("hasidecar_bgp_peer_up",
		"1 while the BGP session with the peer is established.", []string{"peer", "address"}, nil)
	descBGPAdvertised = prometheus.NewDesc("hasidecar_bgp_prefixes_advertised",
		"Prefixes sent to the peer and not withdrawn.", []string{"peer"}, nil)
	descBGPAnnounced = prometheus.NewDesc("hasidecar_bgp_announced_prefixes",
		"Prefixes this node announces now.", nil, nil)
)

// bgpCollector exports the BGP speaker's sessions; nothing without one.
type bgpCollector struct{ src Source }

func (c *bgpCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descBGPPeerUp
	ch <- descBGPAdvertised
	ch <- descBGPAnnounced
}

func (c *bgpCollector) Collect(ch chan<- prometheus.Metric) {
	b := c.src.Status().BGP
	if b == nil {
		return
	}
	for _, p := range b.Peers {
		up := 0.0
		if p.Established {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descBGPPeerUp, prometheus.GaugeValue, up, p.Name, p.Address)
		ch <- prometheus.MustNewConstMetric(descBGPAdvertised, prometheus.GaugeValue, float64(p.Advertised), p.Name)
	}
	ch <- prometheus.MustNewConstMetric(descBGPAnnounced, prometheus.GaugeValue, float64(len(b.Announced)))
}
