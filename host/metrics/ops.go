package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	descMaintenance = prometheus.NewDesc("hasidecar_instance_maintenance",
		"1 while the instance is in maintenance (`hasidecar maintenance on`), else 0.", []string{"instance"}, nil)
	descMaintenanceSince = prometheus.NewDesc("hasidecar_instance_maintenance_since_seconds",
		"When the instance went into maintenance (Unix time); absent when it is not.", []string{"instance"}, nil)
	descConflict = prometheus.NewDesc("hasidecar_conflict",
		"1 while a conflict was seen in the last 30 s: a peer on our VRID with another version, auth, interval or address list, or another MAC owning a VIP (duplicate_vip).",
		[]string{"instance", "kind", "peer"}, nil)
	descConflicts = prometheus.NewDesc("hasidecar_conflicts_total",
		"Conflicting packets seen since start, by kind.", []string{"instance", "kind"}, nil)
)

// conflictKinds are exported from the start (at 0), so that a dashboard
// and an alert see the series before the first conflict.
var conflictKinds = []string{"version", "auth", "interval", "addresses", "duplicate_vip"}

// opsCollector exports what day-2 operations need: maintenance and
// conflicts.
type opsCollector struct{ src Source }

func (c *opsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMaintenance
	ch <- descMaintenanceSince
	ch <- descConflict
	ch <- descConflicts
}

func (c *opsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Status()
	for _, in := range st.Instances {
		v := 0.0
		if in.Maintenance != nil {
			v = 1
			ch <- prometheus.MustNewConstMetric(descMaintenanceSince, prometheus.GaugeValue, float64(in.Maintenance.Since.Unix()), in.Name)
		}
		ch <- prometheus.MustNewConstMetric(descMaintenance, prometheus.GaugeValue, v, in.Name)
		total := map[string]uint64{}
		for _, c := range in.Conflicts {
			a := 0.0
			if c.Active {
				a = 1
			}
			ch <- prometheus.MustNewConstMetric(descConflict, prometheus.GaugeValue, a, in.Name, c.Kind, c.Peer)
			total[c.Kind] += c.Count
		}
		for _, kind := range conflictKinds {
			ch <- prometheus.MustNewConstMetric(descConflicts, prometheus.CounterValue, float64(total[kind]), in.Name, kind)
		}
	}
}
