package allocator_test

import (
	"context"
	"testing"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/promise"
)

// The cell resolves its promise with a synced Allocator on the client of
// cells.Client, registers its metrics with the graph's Registerer, and
// closes the Allocator on stop.
func TestCellProvidesAllocatorAndMetrics(t *testing.T) {
	ctx := testCtx(t)
	reg := prometheus.NewRegistry()
	var p promise.Promise[*allocator.Allocator]
	h := hive.New(cells.Client, allocator.Cell,
		cell.Provide(func() prometheus.Registerer { return reg }),
		cell.Invoke(func(ap promise.Promise[*allocator.Allocator]) { p = ap }))
	fs := pflag.NewFlagSet(t.Name(), pflag.ContinueOnError)
	h.RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{
		"--kvstore=in-memory", "--kvstore-opt=in-memory.store=" + t.Name(),
		"--allocator-base-path=" + basePath(t), "--allocator-node-name=n1",
		"--allocator-min-id=10", "--allocator-max-id=20",
	}))
	log := cells.NewSlogLogger(quiet())
	require.NoError(t, h.Start(log, ctx))
	a, err := p.Await(ctx)
	require.NoError(t, err)
	id, isNew, _, err := a.Allocate(ctx, "k;")
	require.NoError(t, err)
	require.True(t, isNew)
	require.True(t, id >= 10 && id <= 20)
	n, err := testutil.GatherAndCount(reg, "hivekv_allocator_allocations_total", "hivekv_allocator_allocation_duration_seconds")
	require.NoError(t, err)
	require.Equal(t, 2, n)

	require.NoError(t, h.Stop(log, context.Background()))
	_, _, _, err = a.Allocate(ctx, "other;")
	require.ErrorIs(t, err, allocator.ErrClosed)
}
