package allocator

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus metrics of an Allocator. Create them with
// NewMetrics, register them with Register, hand them over with
// WithMetrics. A nil *Metrics counts nothing.
type Metrics struct {
	// Allocations counts successful allocations that reached the store,
	// by outcome: "new" (this call created the ID) or "reused".
	Allocations *prometheus.CounterVec
	// Conflicts counts one-round-trip transactions that did not apply,
	// by reason: "locked" (a lock key exists), "id_taken" (the ID got a
	// master key meanwhile), "has_id" (the key got an ID meanwhile),
	// "unclear" (only the lock protocol can tell), "reference" (a
	// reference to a cached ID did not apply).
	Conflicts *prometheus.CounterVec
	// LockFallbacks counts allocations that took the lock protocol.
	LockFallbacks prometheus.Counter
	// GCDeleted counts master keys deleted by GC rounds.
	GCDeleted prometheus.Counter
	// GCAlive is the number of master keys left after the last GC round.
	GCAlive prometheus.Gauge
	// AllocationDuration is the latency of allocations that reached the
	// store, by outcome.
	AllocationDuration *prometheus.HistogramVec
}

// NewMetrics returns unregistered metrics named hivekv_allocator_*.
func NewMetrics() *Metrics {
	const ns, sub = "hivekv", "allocator"
	return &Metrics{
		Allocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "allocations_total",
			Help: "Allocations that reached the store, by outcome (new, reused).",
		}, []string{"outcome"}),
		Conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "conflicts_total",
			Help: "One-round-trip allocation transactions that did not apply, by reason.",
		}, []string{"reason"}),
		LockFallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "lock_fallbacks_total",
			Help: "Allocations that fell back to the distributed lock protocol.",
		}),
		GCDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "gc_deleted_total",
			Help: "Master keys deleted by GC rounds.",
		}),
		GCAlive: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "gc_alive",
			Help: "Master keys left after the last GC round.",
		}),
		AllocationDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "allocation_duration_seconds",
			Help:    "Latency of allocations that reached the store, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"outcome"}),
	}
}

// Register registers every metric with r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.Allocations, m.Conflicts, m.LockFallbacks, m.GCDeleted, m.GCAlive, m.AllocationDuration} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *Metrics) allocated(isNew bool, seconds float64) {
	if m == nil {
		return
	}
	outcome := "reused"
	if isNew {
		outcome = "new"
	}
	m.Allocations.WithLabelValues(outcome).Inc()
	m.AllocationDuration.WithLabelValues(outcome).Observe(seconds)
}

func (m *Metrics) conflict(reason string) {
	if m != nil {
		m.Conflicts.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) fallback() {
	if m != nil {
		m.LockFallbacks.Inc()
	}
}

func (m *Metrics) gc(s *GCStats) {
	if m != nil && s != nil {
		m.GCDeleted.Add(float64(s.Deleted))
		m.GCAlive.Set(float64(s.Alive))
	}
}
