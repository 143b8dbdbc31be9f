package store

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// The stand-ins for unrecorded metrics are whole metrics: a registry or a
// caller may describe and collect them. They used to embed a nil interface,
// so that Desc, Write, Describe and Collect panicked.
func TestNoopMetricsDoNotPanic(t *testing.T) {
	m := noopMetrics()
	for _, metric := range []prometheus.Metric{m.queueSize, m.syncErrors, m.initialSync, m.entries} {
		require.NotPanics(t, func() {
			require.NotNil(t, metric.Desc())
			require.NoError(t, metric.Write(&dto.Metric{}))
			c := metric.(prometheus.Collector)
			descs, metrics := make(chan *prometheus.Desc, 1), make(chan prometheus.Metric, 1)
			c.Describe(descs)
			c.Collect(metrics)
		})
	}
}
