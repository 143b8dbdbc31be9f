package etcd

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestMetricsOff(t *testing.T) {
	var m *opMetrics
	require.Nil(t, newOpMetrics(nil))
	require.Nil(t, newOpMetrics(&kvstore.ExtraOptions{}))
	require.True(t, m.now().IsZero(), "no clock read when metrics are off")
	// None of these may panic on a nil receiver.
	m.observe(kindRead, "Get", "k", m.now(), nil)
	m.observeQueue("p", kvstore.EventTypeCreate, time.Millisecond)
	m.quorumError(quorumErrLock)
}

func TestMetricsRecord(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := newOpMetrics(&kvstore.ExtraOptions{Metrics: reg})
	require.NotNil(t, m)

	m.observe(kindSet, "Update", "cilium/state/identities/v1/42", m.now(), nil)
	m.observe(kindSet, "Update", "cilium/state/identities/v1/43", m.now(), nil)
	m.observe(kindRead, "Get", "short", m.now(), errors.New("boom"))
	m.observeQueue("cilium/state/nodes/v1/", kvstore.EventTypeModify, 3*time.Millisecond)
	m.quorumError(quorumErrLock)
	m.quorumError(quorumErrLock)
	m.quorumError(quorumErrHeartbeat)

	require.Equal(t, uint64(2), sampleCount(t, m.opDuration.WithLabelValues("identities/v1", kindSet, "Update", outcomeSuccess)))
	require.Equal(t, uint64(1), sampleCount(t, m.opDuration.WithLabelValues("short", kindRead, "Get", outcomeFailure)))
	require.Equal(t, uint64(1), sampleCount(t, m.eventsQueue.WithLabelValues("nodes/v1", "modify")))
	require.InDelta(t, 2, counterValue(t, m.quorumErrors.WithLabelValues("lock timeout")), 0)
	require.InDelta(t, 1, counterValue(t, m.quorumErrors.WithLabelValues("no event received")), 0)

	names, err := reg.Gather()
	require.NoError(t, err)
	var got []string
	for _, f := range names {
		got = append(got, f.GetName())
	}
	require.ElementsMatch(t, []string{metricOpDuration, metricEventsQueue, metricQuorumErrors}, got)
}

// TestMetricsSharedRegistry: two clients on one registry add up instead of
// failing to register.
func TestMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newOpMetrics(&kvstore.ExtraOptions{Metrics: reg})
	b := newOpMetrics(&kvstore.ExtraOptions{Metrics: reg})
	a.quorumError(quorumErrTimeout)
	b.quorumError(quorumErrTimeout)
	require.InDelta(t, 2, counterValue(t, a.quorumErrors.WithLabelValues("timeout")), 0)
}

// TestMetricsRefusedCollector: a registry that refuses one collector (here:
// the name is taken by another type) disables that metric only.
func TestMetricsRefusedCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: metricQuorumErrors, Help: "taken"}))
	m := newOpMetrics(&kvstore.ExtraOptions{Metrics: reg})
	require.NotNil(t, m.opDuration)
	require.Nil(t, m.quorumErrors)
	m.quorumError(quorumErrLock) // no panic
}

func sampleCount(t *testing.T, o prometheus.Observer) uint64 {
	t.Helper()
	h, ok := o.(prometheus.Histogram)
	require.True(t, ok)
	var m dto.Metric
	require.NoError(t, h.Write(&m))
	return m.GetHistogram().GetSampleCount()
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
