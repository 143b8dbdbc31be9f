package allocator_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
)

func clusterClient(t *testing.T, endpoints []string) kvstore.BackendOperations {
	t.Helper()
	c, errCh := client.NewClient(t.Context(), kvstore.EtcdBackendName, map[string]string{
		kvstore.EtcdAddrOption:      strings.Join(endpoints, ","),
		kvstore.EtcdRateLimitOption: "10000",
	}, nil)
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	select {
	case err := <-errCh:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("no connection within 30s")
	}
	return c
}

// Allocations and releases through a 3-member cluster whose leader is
// killed and restarted: calls time out and fail with unknown outcomes, yet
// the recorded history is linearizable under allocModel (porcupine: a key
// keeps its ID while referenced) and no ID goes to two keys, and the store
// ends consistent. A pinning node holds the even keys throughout; the odd
// ones are released by everybody now and then.
func TestHistoryThroughLeaderKill(t *testing.T) {
	cluster := hivetest.StartCluster(t, 3)
	const keys = 40
	ctx := testCtx(t)
	base := basePath(t)
	rec := newOpRecorder()
	key := func(i int) string { return fmt.Sprintf("app=%02d;", i) }

	pin := newAllocator(t, clusterClient(t, cluster.Endpoints()), base, "pin", allocator.WithMin(1), allocator.WithMax(500))
	for i := 0; i < keys; i += 2 {
		call := rec.now()
		id, _, _, err := pin.Allocate(ctx, key(i))
		require.NoError(t, err)
		rec.allocate(0, key(i), call, id, err)
	}

	runCtx, stop := context.WithCancel(ctx)
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for n := range 2 {
		a := newAllocator(t, clusterClient(t, cluster.Endpoints()), base, fmt.Sprintf("n%d", n),
			allocator.WithMin(1), allocator.WithMax(500))
		for g := range 3 {
			client := 1 + n*3 + g
			wg.Add(1)
			go func() {
				defer wg.Done()
				held := map[string]bool{}
				for runCtx.Err() == nil {
					k := key(rand.IntN(keys))
					opCtx, cancel := context.WithTimeout(runCtx, time.Second)
					call := rec.now()
					if held[k] {
						_, err := a.Release(opCtx, k)
						rec.release(client, k, call, err)
						delete(held, k) // dropped locally even when the delete failed
					} else {
						id, _, _, err := a.Allocate(opCtx, k)
						rec.allocate(client, k, call, id, err)
						if err == nil {
							held[k] = true
							ok.Add(1)
						} else {
							failed.Add(1)
						}
					}
					cancel()
				}
			}()
		}
	}
	progress := func(more int64) {
		t.Helper()
		target := ok.Load() + more
		require.Eventually(t, func() bool { return ok.Load() >= target }, 30*time.Second, 10*time.Millisecond,
			"allocations made no progress")
	}
	progress(10)
	leader, err := cluster.Leader(ctx)
	require.NoError(t, err)
	require.NoError(t, cluster.KillMember(leader))
	progress(10)
	require.NoError(t, cluster.RestartMember(ctx, leader))
	progress(10)
	stop()
	wg.Wait()

	rec.check(t)
	requireConsistentSlaves(t, clusterClient(t, cluster.Endpoints()), base, 1, 500, false)
	t.Logf("%d successful allocations, %d failed", ok.Load(), failed.Load())
}
