package store

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hivekv/kvstore"
)

// Metric names. Like the client's, they carry no program namespace: wrap the
// registry with prometheus.WrapRegistererWithPrefix for one.
const (
	metricQueueSize   = "kvstore_sync_queue_size"
	metricSyncErrors  = "kvstore_sync_errors_total"
	metricInitialSync = "kvstore_initial_sync_completed"
	metricEntries     = "kvstore_store_entries"
)

// Label values of the "action" label of kvstore_initial_sync_completed.
const (
	actionWrite = "write"
	actionRead  = "read"
)

// Metrics are the stores' Prometheus instrumentation, labelled by scope
// (kvstore.GetScopeFromKey of the prefix) and source_cluster:
//
//   - kvstore_sync_queue_size: keys a SyncStore has yet to write;
//   - kvstore_sync_errors_total: failed key writes of SyncStores;
//   - kvstore_initial_sync_completed{action="write"|"read"}: 1 once a
//     SyncStore wrote its synced marker / a WatchStore got its first list,
//     0 before and after they run;
//   - kvstore_store_entries: keys a WatchStore holds.
//
// A nil *Metrics records nothing.
type Metrics struct {
	queueSize   *prometheus.GaugeVec
	syncErrors  *prometheus.CounterVec
	initialSync *prometheus.GaugeVec
	entries     *prometheus.GaugeVec

	health *storesHealth // Cell's health reporting (nil: none)
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). Several factories may share one registry: collectors already
// registered there are reused, so their samples add up.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	labels := []string{"scope", "source_cluster"}
	m := &Metrics{
		queueSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricQueueSize,
			Help: "Number of keys a sync store has yet to write to the kvstore",
		}, labels),
		syncErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricSyncErrors,
			Help: "Number of failed key writes of sync stores",
		}, labels),
		initialSync: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricInitialSync,
			Help: "Whether the initial synchronisation of a store completed (action: write or read)",
		}, append(labels, "action")),
		entries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricEntries,
			Help: "Number of keys held by a watch store",
		}, labels),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.queueSize, err = register(reg, m.queueSize)
	if err == nil {
		m.syncErrors, err = register(reg, m.syncErrors)
	}
	if err == nil {
		m.initialSync, err = register(reg, m.initialSync)
	}
	if err == nil {
		m.entries, err = register(reg, m.entries)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the equal collector already registered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return c, nil
	case errors.As(err, &are):
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("registering store metrics: %w", err)
}

// storeMetrics are the metrics of one store, with its labels bound.
type storeMetrics struct {
	queueSize   prometheus.Gauge
	syncErrors  prometheus.Counter
	initialSync prometheus.Gauge
	entries     prometheus.Gauge
	// health reports the outcome of writes (nil: no health reporting).
	health *storeHealth
}

// forSyncStore returns the metrics of a SyncStore (fields of a nil m are
// no-ops).
func (m *Metrics) forSyncStore(prefix, cluster string) storeMetrics {
	if m == nil {
		return noopMetrics()
	}
	scope := kvstore.GetScopeFromKey(prefix)
	sm := storeMetrics{
		queueSize:   m.queueSize.WithLabelValues(scope, cluster),
		syncErrors:  m.syncErrors.WithLabelValues(scope, cluster),
		initialSync: m.initialSync.WithLabelValues(scope, cluster, actionWrite),
		entries:     noopGauge{},
	}
	if m.health != nil {
		sm.health = m.health.store("syncstore", prefix, cluster)
		sm = sm.health.tee(sm)
	}
	return sm
}

// forWatchStore returns the metrics of a WatchStore watching prefix.
func (m *Metrics) forWatchStore(prefix, cluster string) storeMetrics {
	if m == nil {
		return noopMetrics()
	}
	scope := kvstore.GetScopeFromKey(prefix)
	sm := storeMetrics{
		queueSize:   noopGauge{},
		syncErrors:  noopCounter{},
		initialSync: m.initialSync.WithLabelValues(scope, cluster, actionRead),
		entries:     m.entries.WithLabelValues(scope, cluster),
	}
	if m.health != nil {
		sm.health = m.health.store("watchstore", prefix, cluster)
		sm = sm.health.tee(sm)
	}
	return sm
}

func noopMetrics() storeMetrics {
	return storeMetrics{noopGauge{}, noopCounter{}, noopGauge{}, noopGauge{}, nil}
}

// noopGauge and noopCounter stand in when no metrics are recorded. They
// implement every method (none embeds a nil interface), so that a caller
// who describes or collects them, as a registry does, gets an empty metric
// rather than a panic.
type noopGauge struct{}

func (noopGauge) Set(float64)                      {}
func (noopGauge) Inc()                             {}
func (noopGauge) Dec()                             {}
func (noopGauge) Add(float64)                      {}
func (noopGauge) Sub(float64)                      {}
func (noopGauge) SetToCurrentTime()                {}
func (noopGauge) Desc() *prometheus.Desc           { return noopDesc }
func (noopGauge) Write(*dto.Metric) error          { return nil }
func (noopGauge) Describe(chan<- *prometheus.Desc) {}
func (noopGauge) Collect(chan<- prometheus.Metric) {}

type noopCounter struct{}

func (noopCounter) Inc()                             {}
func (noopCounter) Add(float64)                      {}
func (noopCounter) Desc() *prometheus.Desc           { return noopDesc }
func (noopCounter) Write(*dto.Metric) error          { return nil }
func (noopCounter) Describe(chan<- *prometheus.Desc) {}
func (noopCounter) Collect(chan<- prometheus.Metric) {}

// noopDesc describes the stand-ins: a valid description of nothing.
var noopDesc = prometheus.NewDesc("kvstore_store_metrics_disabled", "Stands in for a store metric that is not recorded", nil, nil)

var (
	_ prometheus.Gauge   = noopGauge{}
	_ prometheus.Counter = noopCounter{}
)
