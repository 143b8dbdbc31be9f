package doublewrite

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the Prometheus metrics of a double-write backend. Create them
// with NewMetrics, register them with Register, hand them over with
// WithMetrics. A nil *Metrics counts nothing.
type Metrics struct {
	// MirrorFailures counts writes that failed on the side not read from,
	// by operation (allocate_id, acquire_reference, release, update_key,
	// lock, gc, locks_gc, delete_all): each is a divergence until the
	// periodic sync repairs it; Compare lists what differs.
	MirrorFailures *prometheus.CounterVec
}

// NewMetrics returns unregistered metrics named
// hivekv_allocator_doublewrite_*.
func NewMetrics() *Metrics {
	return &Metrics{
		MirrorFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hivekv", Subsystem: "allocator_doublewrite", Name: "mirror_failures_total",
			Help: "Double writes that failed on the side not read from (best effort), by operation.",
		}, []string{"op"}),
	}
}

// Register registers every metric with r.
func (m *Metrics) Register(r prometheus.Registerer) error { return r.Register(m.MirrorFailures) }

func (m *Metrics) failed(op string) {
	if m != nil {
		m.MirrorFailures.WithLabelValues(op).Inc()
	}
}
