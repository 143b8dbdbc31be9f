package mesh_test

import (
	"path"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/mesh"
	"github.com/hivekv/kvstore/store"
)

// TestMeshMetrics: the mirrors record the store metrics with
// source_cluster=<remote>, and the mesh its own readiness per cluster.
func TestMeshMetrics(t *testing.T) {
	ctx := testCtx(t)
	remote := hivetest.StartServer(t)
	c1 := clusterName(t, "c1")
	_, err := remote.Client(t).Put(ctx, path.Join(nodes, c1, "n1"), "node-1")
	require.NoError(t, err)
	dir := newK8sDir(t)
	dir.set(t, map[string]string{c1: configOf(t, remote.Endpoint())})

	reg := prometheus.NewRegistry()
	sm, err := store.NewMetrics(reg)
	require.NoError(t, err)
	mm, err := mesh.NewMetrics(reg)
	require.NoError(t, err)
	opts := fastOptions()
	log, _ := quietLogger()
	opts.Factory = store.NewFactory(store.WithLogger(log), store.WithMetrics(sm))
	opts.Metrics = mm
	m, err := mesh.New(fastConfig(dir.dir, clusterName(t, "local")), opts)
	require.NoError(t, err)
	runMesh(t, m, localClient(t, hivetest.SharedServer(t), nil))

	require.Eventually(t, func() bool {
		st, _ := clusterStatus(m, c1)
		return st.Synced
	}, waitFor, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(mm.Ready(c1)) == 1
	}, waitFor, 10*time.Millisecond)
	n, err := testutil.GatherAndCount(reg, "kvstore_initial_sync_completed")
	require.NoError(t, err)
	require.Positive(t, n)
	families, err := reg.Gather()
	require.NoError(t, err)
	found := false
	for _, f := range families {
		if f.GetName() != "kvstore_initial_sync_completed" {
			continue
		}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "source_cluster" && l.GetValue() == c1 && mt.GetGauge().GetValue() == 1 {
					found = true
				}
			}
		}
	}
	require.True(t, found, "kvstore_initial_sync_completed{source_cluster=%q} = 1", c1)
	require.Equal(t, 1.0, testutil.ToFloat64(mm.Leader()))
}
