package cells_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/promise"
)

// The promise: cells.All plus the two flags gives a working client,
// and the heartbeat and lock GC cells run beside it in the same hive.
func TestCellAllComposition(t *testing.T) {
	var (
		p  promise.Promise[kvstore.BackendOperations]
		up promise.Promise[kvstore.BackendOperationsUserMgmt]
	)
	h, log := newHive(t, etcdArgs(t, "--kvstore-heartbeat-interval=50ms", "--kvstore-lock-gc-interval=50ms"),
		cells.All, capture(&p), capture(&up))
	startHive(t, h, log)
	c, err := await(t, p)
	require.NoError(t, err)
	_, err = await(t, up)
	require.NoError(t, err)

	// The heartbeat cell rewrites the key through the client.
	ctx := context.Background()
	var first uint64
	require.Eventually(t, func() bool {
		pairs, err := c.ListPrefix(ctx, kvstore.HeartbeatPath)
		if err != nil || len(pairs) == 0 {
			return false
		}
		rev := pairs[kvstore.HeartbeatPath].ModRevision
		if first == 0 {
			first = rev
		}
		return rev > first
	}, testTimeout, 10*time.Millisecond)
}

func TestCellAllNotConfigured(t *testing.T) {
	var p promise.Promise[kvstore.BackendOperations]
	h, log := newHive(t, nil, cells.All, capture(&p))
	startHive(t, h, log)
	_, err := await(t, p)
	require.ErrorIs(t, err, kvstore.ErrNotConfigured)
}
