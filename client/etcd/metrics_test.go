package etcd_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

// metricValue returns the value of the counter, or the sample count of the
// histogram, name{labels} in reg; 0 if absent.
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func TestMetricsEtcdOperations(t *testing.T) {
	t.Parallel()
	srv := hivetest.SharedServer(t)
	reg := prometheus.NewRegistry()
	c := newEtcdClient(t, srv.Endpoints(), &kvstore.ExtraOptions{Metrics: reg})
	key := "cilium/state/" + hivetest.UniquePrefix(t) + "k"
	scope := kvstore.GetScopeFromKey(key)
	require.NoError(t, c.Update(t.Context(), key, []byte("v"), false))
	_, err := c.Get(t.Context(), key)
	require.NoError(t, err)
	require.NoError(t, c.Delete(t.Context(), key))

	for _, l := range []map[string]string{
		{"scope": scope, "kind": "set", "action": "Update", "outcome": "success"},
		{"scope": scope, "kind": "read", "action": "Get", "outcome": "success"},
		{"scope": scope, "kind": "delete", "action": "Delete", "outcome": "success"},
	} {
		require.Equal(t, 1.0, metricValue(t, reg, "kvstore_operations_duration_seconds", l), "%v", l)
	}
}
