// Package metrics exports the daemon's state in Prometheus text format at
// metrics.listen. Most figures are read from the daemon's status at scrape
// time; check latencies are a histogram observed as checks run.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hasidecar/hasidecar/host/status"
)

// Source is what the exporter reads at every scrape.
type Source interface {
	Status() status.Status
	// PluginRestarts counts restarts by plugin name.
	PluginRestarts() map[string]int
	// CheckFailures counts failed runs by check name since start.
	CheckFailures() map[string]uint64
}

// Exporter holds the daemon's metrics registry (never the global one).
type Exporter struct {
	reg     *prometheus.Registry
	latency *prometheus.HistogramVec
}

// New returns an exporter reading src.
func New(src Source) *Exporter {
	reg := prometheus.NewRegistry()
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hasidecar_check_latency_seconds",
		Help:    "How long each check run took, as its plugin measured it.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"check"})
	reg.MustRegister(latency, &collector{src: src}, &opsCollector{src: src}, &bgpCollector{src: src},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Exporter{reg: reg, latency: latency}
}

// ObserveCheck records one check run's latency.
func (e *Exporter) ObserveCheck(check string, latency time.Duration) {
	e.latency.WithLabelValues(check).Observe(latency.Seconds())
}

// Handler serves /metrics.
func (e *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{})
}

// Serve serves /metrics on l until ctx ends.
func (e *Exporter) Serve(ctx context.Context, l net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", e.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: serving on %s: %w", l.Addr(), err)
	}
	return nil
}

var (
	descState = prometheus.NewDesc("hasidecar_instance_state",
		"1 for the state the instance is in (INIT, BACKUP, MASTER, FAULT), 0 for the others.",
		[]string{"instance", "state"}, nil)
	descPriority = prometheus.NewDesc("hasidecar_instance_priority",
		"Configured (base) VRRP priority.", []string{"instance"}, nil)
	descEffective = prometheus.NewDesc("hasidecar_instance_effective_priority",
		"Priority advertised now: the base moved by tracked checks.", []string{"instance"}, nil)
	descTransitions = prometheus.NewDesc("hasidecar_instance_transitions_total",
		"State changes since start.", []string{"instance"}, nil)
	descSent = prometheus.NewDesc("hasidecar_adverts_sent_total",
		"VRRP advertisements sent.", []string{"instance"}, nil)
	descReceived = prometheus.NewDesc("hasidecar_adverts_received_total",
		"VRRP advertisements received and accepted.", []string{"instance"}, nil)
	descHealthy = prometheus.NewDesc("hasidecar_check_healthy",
		"1 while the check is healthy.", []string{"check", "plugin"}, nil)
	descConsecutive = prometheus.NewDesc("hasidecar_check_consecutive_failures",
		"Failed runs since the last pass.", []string{"check"}, nil)
	descFailures = prometheus.NewDesc("hasidecar_check_failures_total",
		"Failed runs since start.", []string{"check"}, nil)
	descRestarts = prometheus.NewDesc("hasidecar_plugin_restarts_total",
		"Times a plugin process was restarted.", []string{"plugin"}, nil)
)

var states = []string{"INIT", "BACKUP", "MASTER", "FAULT"}

// collector turns a status snapshot into metrics at scrape time.
type collector struct{ src Source }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descPriority, descEffective, descTransitions, descSent,
		descReceived, descDropped, descSocketDropped, descHealthy, descConsecutive, descFailures, descRestarts} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Status()
	gauge := prometheus.GaugeValue
	counter := prometheus.CounterValue
	for _, in := range st.Instances {
		for _, s := range states {
			v := 0.0
			if in.State == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descState, gauge, v, in.Name, s)
		}
		ch <- prometheus.MustNewConstMetric(descPriority, gauge, float64(in.Priority), in.Name)
		ch <- prometheus.MustNewConstMetric(descEffective, gauge, float64(in.EffectivePriority), in.Name)
		ch <- prometheus.MustNewConstMetric(descTransitions, counter, float64(in.Transitions), in.Name)
		ch <- prometheus.MustNewConstMetric(descSent, counter, float64(in.AdvertsSent), in.Name)
		ch <- prometheus.MustNewConstMetric(descReceived, counter, float64(in.AdvertsRecv), in.Name)
		collectDropped(ch, in)
	}
	failures := c.src.CheckFailures()
	for _, chk := range st.Checks {
		v := 0.0
		if chk.Healthy {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descHealthy, gauge, v, chk.Name, chk.Plugin)
		ch <- prometheus.MustNewConstMetric(descConsecutive, gauge, float64(chk.ConsecutiveFailures), chk.Name)
		ch <- prometheus.MustNewConstMetric(descFailures, counter, float64(failures[chk.Name]), chk.Name)
	}
	collectSocketDropped(ch, st.Sockets)
	for name, n := range c.src.PluginRestarts() {
		ch <- prometheus.MustNewConstMetric(descRestarts, counter, float64(n), name)
	}
}
