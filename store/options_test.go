package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/store"
)

// countingLimiter is a RateLimiter (client-go's workqueue.RateLimiter
// method set) that records its calls.
type countingLimiter struct {
	mu     sync.Mutex
	when   map[any]int
	forget map[any]int
}

func (l *countingLimiter) When(item any) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.when[item]++
	return time.Millisecond
}

func (l *countingLimiter) Forget(item any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forget[item]++
}

func (l *countingLimiter) NumRequeues(item any) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.when[item]
}

func (l *countingLimiter) counts(item any) (when, forget int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.when[item], l.forget[item]
}

// WSSWithRateLimiter, as the reference's: the limiter decides the backoff of
// a failed key, and forgets the key once it is written.
func TestSyncStoreWithRateLimiter(t *testing.T) {
	_, c := newMemory(t)
	rec := &recorder{BackendOperations: c}
	rec.failUpdates.Store(3)
	limiter := &countingLimiter{when: map[any]int{}, forget: map[any]int{}}
	log, _ := quietLogger()
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore("c1", rec, "p/x",
		store.WSSWithRateLimiter(limiter), store.WSSWithWorkers(1))
	ctx := testCtx(t)
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("a", "1")))
	run(t, ss.Run)
	require.Eventually(t, func() bool { return list(t, c, "p/x/")["p/x/a"] == "1" && len(rec.all()) == 1 }, waitFor, tick)
	require.Eventually(t, func() bool { when, forget := limiter.counts("a"); return when == 3 && forget == 1 }, waitFor, tick)
}

// WSSWithWorkers takes a uint like the reference's; 0 still writes.
func TestSyncStoreWithZeroWorkers(t *testing.T) {
	_, c := newMemory(t)
	log, _ := quietLogger()
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore("c1", c, "p/x", store.WSSWithWorkers(uint(0)))
	require.NoError(t, ss.UpsertKey(testCtx(t), store.NewKVPair("a", "1")))
	run(t, ss.Run)
	require.Eventually(t, func() bool { return list(t, c, "p/x/")["p/x/a"] == "1" }, waitFor, tick)
}

// RWSWithEntriesMetric, as the reference's: the gauge follows the number of
// keys held, through upserts, deletions, a restart and Drain.
func TestWatchStoreWithEntriesMetric(t *testing.T) {
	_, c := newMemory(t)
	ctx := testCtx(t)
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "entries"})
	log, _ := quietLogger()
	ws := store.NewFactory(store.WithLogger(log)).NewWatchStore("c1", store.KVPairCreator, newView(), store.RWSWithEntriesMetric(gauge))
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, c.Update(ctx, "p/x/"+k, []byte("1"), false))
	}
	stop := run(t, func(ctx context.Context) { ws.Watch(ctx, c, "p/x") })
	require.Eventually(t, func() bool { return ws.Synced() && testutil.ToFloat64(gauge) == 3 }, waitFor, tick)
	require.NoError(t, c.Delete(ctx, "p/x/a"))
	require.Eventually(t, func() bool { return testutil.ToFloat64(gauge) == 2 }, waitFor, tick)
	stop()
	ws.Drain()
	require.Zero(t, testutil.ToFloat64(gauge))
}
