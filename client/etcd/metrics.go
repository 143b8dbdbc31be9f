package etcd

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
)

// Operation kinds, the "kind" label of the operation duration histogram.
const (
	kindRead   = "read"
	kindSet    = "set"
	kindDelete = "delete"
)

// Outcome label values.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
)

// Values of the "error" label of the quorum errors counter.
const (
	quorumErrTimeout   = "timeout"           // the first session never came
	quorumErrLock      = "lock timeout"      // the quorum lock failed
	quorumErrHeartbeat = "no event received" // the heartbeat went stale
)

// Metric names. They carry no program-specific namespace: a consumer that
// wants one wraps its registry with prometheus.WrapRegistererWithPrefix.
const (
	metricOpDuration   = "kvstore_operations_duration_seconds"
	metricEventsQueue  = "kvstore_events_queue_seconds"
	metricQuorumErrors = "kvstore_quorum_errors_total"
)

// opMetrics is the client's Prometheus instrumentation:
//
//   - kvstore_operations_duration_seconds{scope,kind,action,outcome}: every
//     request to the store, scope from kvstore.GetScopeFromKey;
//   - kvstore_events_queue_seconds{scope,action}: how long a watch event
//     waited between its arrival from the store and its hand-over to the
//     consumer, action being the event type;
//   - kvstore_quorum_errors_total{error}: failed quorum checks by cause.
//
// A nil *opMetrics records nothing and costs one nil check per call: the
// methods sit on the path of every operation.
type opMetrics struct {
	opDuration   *prometheus.HistogramVec
	eventsQueue  *prometheus.HistogramVec
	quorumErrors *prometheus.CounterVec
}

// queueBuckets resolve the 2 ms – 1 s range in which watch queueing matters.
var queueBuckets = []float64{.002, .005, .01, .015, .025, .05, .1, .25, .5, .75, 1}

// newOpMetrics returns nil unless extra names a registry. Several clients
// may share one registry: the second one reuses the collectors of the first
// (they have the same descriptors), so their samples add up. A collector the
// registry refuses for another reason disables that metric only, with a
// warning, rather than the client.
func newOpMetrics(extra *kvstore.ExtraOptions) *opMetrics {
	if extra == nil || extra.Metrics == nil {
		return nil
	}
	reg := extra.Metrics
	log := extra.Log("kvstore")
	m := &opMetrics{
		opDuration: register(reg, log, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricOpDuration,
			Help:    "Duration of kvstore operations, by key scope, kind, action and outcome",
			Buckets: prometheus.DefBuckets,
		}, []string{"scope", "kind", "action", "outcome"})),
		eventsQueue: register(reg, log, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricEventsQueue,
			Help:    "Time a watch event spent queued before the consumer received it, by scope and event type",
			Buckets: queueBuckets,
		}, []string{"scope", "action"})),
		quorumErrors: register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricQuorumErrors,
			Help: "Failed kvstore quorum checks, by cause",
		}, []string{"error"})),
	}
	return m
}

// register registers c on reg, or returns the equal collector already
// there, or nil (metric off) when reg refuses it.
func register[C prometheus.Collector](reg prometheus.Registerer, log logrus.FieldLogger, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	log.Warnf("kvstore metrics disabled for one collector: %v", err)
	var zero C
	return zero
}

// now returns the start time of an operation, or the zero time when metrics
// are off (time.Now is not free on every platform).
func (m *opMetrics) now() time.Time {
	if m == nil {
		return time.Time{}
	}
	return time.Now()
}

// observe records one operation started at start (from now).
func (m *opMetrics) observe(kind, action, key string, start time.Time, err error) {
	if m == nil || m.opDuration == nil {
		return
	}
	outcome := outcomeSuccess
	if err != nil {
		outcome = outcomeFailure
	}
	m.opDuration.WithLabelValues(kvstore.GetScopeFromKey(key), kind, action, outcome).
		Observe(time.Since(start).Seconds())
}

// observeQueue records that an event of type typ for a watch of prefix
// waited d before the consumer took it.
func (m *opMetrics) observeQueue(prefix string, typ kvstore.EventType, d time.Duration) {
	if m == nil || m.eventsQueue == nil {
		return
	}
	m.eventsQueue.WithLabelValues(kvstore.GetScopeFromKey(prefix), typ.String()).Observe(d.Seconds())
}

// quorumError counts a failed quorum check; cause is one of the
// quorumErr* constants.
func (m *opMetrics) quorumError(cause string) {
	if m == nil || m.quorumErrors == nil {
		return
	}
	m.quorumErrors.WithLabelValues(cause).Inc()
}
