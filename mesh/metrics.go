package mesh

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the mesh's own metrics; the mirrors' stores record the store
// metrics (kvstore_sync_queue_size, kvstore_sync_errors_total,
// kvstore_initial_sync_completed, kvstore_store_entries) with
// source_cluster=<remote cluster> through the Factory.
//
//   - kvstoremesh_leader: 1 while this replica leads;
//   - kvstoremesh_remote_clusters: configured remote clusters;
//   - kvstoremesh_remote_cluster_ready{source_cluster}: 1 when connected
//     and synced;
//   - kvstoremesh_remote_cluster_failures_total{source_cluster}: failed
//     attempts to connect and mirror.
//
// A nil *Metrics records nothing.
type Metrics struct {
	leader   prometheus.Gauge
	clusters prometheus.Gauge
	ready    *prometheus.GaugeVec
	failures *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kvstoremesh_leader", Help: "Whether this kvstoremesh replica leads",
		}),
		clusters: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kvstoremesh_remote_clusters", Help: "Number of configured remote clusters",
		}),
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kvstoremesh_remote_cluster_ready", Help: "Whether a remote cluster is connected and synced",
		}, []string{"source_cluster"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstoremesh_remote_cluster_failures_total", Help: "Failed attempts to connect to and mirror a remote cluster",
		}, []string{"source_cluster"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.leader, m.clusters, m.ready, m.failures} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("registering kvstoremesh metrics: %w", err)
	}
	return m, nil
}

func (m *Metrics) setLeader(v bool) {
	if m != nil {
		m.leader.Set(b2f(v))
	}
}

func (m *Metrics) setClusters(n int) {
	if m != nil {
		m.clusters.Set(float64(n))
	}
}

func (m *Metrics) setReady(cluster string, v bool) {
	if m != nil {
		m.ready.WithLabelValues(cluster).Set(b2f(v))
	}
}

func (m *Metrics) failure(cluster string) {
	if m != nil {
		m.failures.WithLabelValues(cluster).Inc()
	}
}

// forget drops a removed cluster's series.
func (m *Metrics) forget(cluster string) {
	if m != nil {
		m.ready.DeleteLabelValues(cluster)
		m.failures.DeleteLabelValues(cluster)
	}
}

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// Ready returns the readiness gauge of cluster (for tests and dashboards
// built in code).
func (m *Metrics) Ready(cluster string) prometheus.Gauge { return m.ready.WithLabelValues(cluster) }

// Leader returns the leader gauge.
func (m *Metrics) Leader() prometheus.Gauge { return m.leader }
