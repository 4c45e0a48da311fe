package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	descMaintenance = prometheus.NewDesc("hasidecar_instance_maintenance",
		"1 while the instance is in maintenance (`hasidecar maintenance on`), else 0.", []string{"instance"}, nil)
	descMaintenanceSince = prometheus.NewDesc("hasidecar_instance_maintenance_since_seconds",
		"When the instance went into maintenance (Unix time); absent when it is not.", []string{"instance"}, nil)
)

// opsCollector exports what day-2 operations need: maintenance.
type opsCollector struct{ src Source }

func (c *opsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMaintenance
	ch <- descMaintenanceSince
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
	}
}
