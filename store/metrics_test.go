package store_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/store"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := store.NewMetrics(reg)
	require.NoError(t, err)
	again, err := store.NewMetrics(reg) // a second factory on the same registry
	require.NoError(t, err)
	_, c := newMemory(t)
	rec := &recorder{BackendOperations: c}
	rec.failUpdates.Store(2)
	log, _ := quietLogger()
	ctx := testCtx(t)
	ss := store.NewFactory(store.WithLogger(log), store.WithMetrics(m)).NewSyncStore("c1", rec, "cilium/state/things/v1", store.WSSWithWorkers(1))

	gauge := func(name string, labels ...string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
		metrics:
			for _, sample := range mf.GetMetric() {
				for i := 0; i < len(labels); i += 2 {
					if label(sample, labels[i]) != labels[i+1] {
						continue metrics
					}
				}
				if sample.GetGauge() != nil {
					return sample.GetGauge().GetValue()
				}
				return sample.GetCounter().GetValue()
			}
		}
		return -1
	}
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("a", "1")))
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("b", "1")))
	require.Equal(t, 2.0, gauge("kvstore_sync_queue_size", "scope", "things/v1", "source_cluster", "c1"))
	require.NoError(t, ss.Synced(ctx))
	stop := run(t, ss.Run)
	require.Eventually(t, func() bool {
		return gauge("kvstore_initial_sync_completed", "action", "write", "source_cluster", "c1") == 1
	}, waitFor, tick)
	require.Equal(t, 0.0, gauge("kvstore_sync_queue_size", "source_cluster", "c1"))
	require.Equal(t, 2.0, gauge("kvstore_sync_errors_total", "source_cluster", "c1"))

	v := newView()
	ws := store.NewFactory(store.WithLogger(log), store.WithMetrics(again)).NewWatchStore("c1", store.KVPairCreator, v)
	stopWatch := run(t, func(ctx context.Context) { ws.Watch(ctx, c, "cilium/state/things/v1") })
	require.Eventually(t, ws.Synced, waitFor, tick)
	require.Equal(t, 2.0, gauge("kvstore_store_entries", "scope", "things/v1"))
	require.Equal(t, 1.0, gauge("kvstore_initial_sync_completed", "action", "read"))
	stopWatch()
	stop()
	require.Equal(t, 0.0, gauge("kvstore_initial_sync_completed", "action", "read"))
	require.Equal(t, 0.0, gauge("kvstore_initial_sync_completed", "action", "write"))
}
