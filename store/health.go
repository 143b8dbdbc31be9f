package store

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hivekv/kvstore/internal/modhealth"
)

// Health of the stores of a Factory made by Cell, in the "kvstore-store"
// scope (see internal/modhealth): one part per SyncStore and per
// WatchStore, each with a child scope of its own named
// "syncstore-<cluster>-<prefix>" or "watchstore-<cluster>-<prefix>".
//
// It rides on the stores' metrics: every update of a store's queue length,
// initial-sync state or errors also updates its health part, so the stores
// report through one set of calls.
//
//   - SyncStore: Degraded "initial sync pending (N keys queued)" until its
//     synced marker is written, Degraded with the last error while writes
//     fail (until one succeeds), OK once synced, Stopped when Run returned.
//   - WatchStore: Degraded "initial list pending" until the first
//     ListDone, OK once synced, Stopped when Watch returned.
type storesHealth struct {
	module *modhealth.Module

	mu    sync.Mutex
	parts map[string]*storeHealth // by scope name: a store's Runs share one
}

// withHealth makes the factory's stores report into m (Cell only). It
// needs the factory's Metrics, unregistered ones if there is no registry.
func withHealth(m *modhealth.Module) FactoryOpt {
	return func(f *factory) {
		if f.metrics == nil {
			f.metrics, _ = NewMetrics(nil) // nil registry: cannot fail
		}
		f.metrics.health = &storesHealth{module: m, parts: map[string]*storeHealth{}}
	}
}

// store returns the health of the store named kind-cluster-prefix.
func (h *storesHealth) store(kind, prefix, cluster string) *storeHealth {
	name := kind + "-" + cluster + "-" + prefix
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.parts[name]; ok {
		return s
	}
	s := &storeHealth{part: h.module.Sub(name), sync: kind == "syncstore"}
	h.parts[name] = s
	s.report()
	return s
}

// storeHealth is the health of one store.
type storeHealth struct {
	part *modhealth.Part
	sync bool // a SyncStore (else a WatchStore)

	mu      sync.Mutex
	queued  int
	synced  bool
	stopped bool
	lastErr error
}

// update applies fn to the state and reports it.
func (s *storeHealth) update(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
	s.report()
}

// report reports the state; the caller holds mu (or owns s).
func (s *storeHealth) report() {
	switch {
	case s.stopped:
		s.part.Stopped("not running")
	case s.lastErr != nil:
		s.part.Degraded(fmt.Sprintf("writes failing, retrying with backoff (%d keys queued)", s.queued), s.lastErr)
	case !s.synced && s.sync:
		s.part.Degraded(fmt.Sprintf("initial sync pending (%d keys queued)", s.queued), nil)
	case !s.synced:
		s.part.Degraded("initial list pending", nil)
	default:
		s.part.OK("synced")
	}
}

// failed records the outcome of a write: err, or nil for a success.
func (s *storeHealth) failed(err error) {
	if s == nil {
		return
	}
	s.update(func() {
		if err != nil || s.lastErr != nil {
			s.lastErr = err
		}
	})
}

// tee returns sm with its gauges also updating s.
func (s *storeHealth) tee(sm storeMetrics) storeMetrics {
	sm.queueSize = healthGauge{Gauge: sm.queueSize, set: func(v float64) {
		s.update(func() { s.queued, s.stopped = int(v), false })
	}}
	sm.initialSync = healthGauge{Gauge: sm.initialSync, set: func(v float64) {
		// The stores set 1 once synced and 0 when Run or Watch returns.
		s.update(func() { s.synced, s.stopped = v == 1, v != 1 })
	}}
	return sm
}

// healthGauge is a gauge that also reports each value set.
type healthGauge struct {
	prometheus.Gauge
	set func(float64)
}

func (g healthGauge) Set(v float64) {
	g.Gauge.Set(v)
	g.set(v)
}
