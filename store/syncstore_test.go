package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/memory"
	"github.com/hivekv/kvstore/store"
)

// recorder wraps a backend and records the single writes a SyncStore makes
// through it that succeeded. failUpdates makes that many of the next
// updates fail after they were applied: the store sees an error, and must
// treat the outcome as unknown (write again).
type recorder struct {
	kvstore.BackendOperations
	mu          sync.Mutex
	writes      []string
	failUpdates atomic.Int32
}

func (r *recorder) Update(ctx context.Context, key string, value []byte, lease bool) error {
	err := r.BackendOperations.Update(ctx, key, value, lease)
	if r.failUpdates.Add(-1) >= 0 {
		return errors.New("injected failure after the write")
	}
	r.failUpdates.Store(0)
	r.record(fmt.Sprintf("update %s=%s lease=%v", key, value, lease))
	return err
}

func (r *recorder) Delete(ctx context.Context, key string) error {
	err := r.BackendOperations.Delete(ctx, key)
	r.record("delete " + key)
	return err
}

func (r *recorder) record(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, s)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

func newMemory(t testing.TB) (*memory.Store, kvstore.BackendOperations) {
	s := memory.NewStore()
	c := s.NewClient(nil)
	t.Cleanup(c.Close)
	return s, c
}

// badKey fails to marshal.
type badKey struct{ store.KVPair }

func (badKey) Marshal() ([]byte, error) { return nil, errors.New("cannot encode") }

func TestSyncStoreCoalescesAndSkipsIdenticalValues(t *testing.T) {
	_, c := newMemory(t)
	rec := &recorder{BackendOperations: c}
	log, _ := quietLogger()
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore("c1", rec, "p/x")
	ctx := testCtx(t)

	// Queued before Run: only the latest value of a key is written.
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("a", "1")))
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("a", "2")))
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("b", "1")))
	require.NoError(t, ss.DeleteKey(ctx, store.NewKVPair("unknown", "")))
	err := ss.UpsertKey(ctx, &badKey{})
	require.ErrorIs(t, err, store.ErrMarshal)
	run(t, ss.Run)

	require.Eventually(t, func() bool { return len(rec.all()) == 2 }, waitFor, tick)
	require.Equal(t, map[string]string{"p/x/a": "2", "p/x/b": "1"}, list(t, c, "p/x/"))
	require.ElementsMatch(t, []string{"update p/x/a=2 lease=true", "update p/x/b=1 lease=true"}, rec.all())

	// An identical value is a no-op; a new one is written; a delete too.
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("a", "2")))
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("b", "3")))
	require.NoError(t, ss.DeleteKey(ctx, store.NewKVPair("a", "")))
	require.Eventually(t, func() bool { return len(rec.all()) == 4 }, waitFor, tick)
	require.ElementsMatch(t, []string{"update p/x/b=3 lease=true", "delete p/x/a"}, rec.all()[2:])
	require.Equal(t, map[string]string{"p/x/b": "3"}, list(t, c, "p/x/"))
}

func TestSyncStoreRetriesFailedWrites(t *testing.T) {
	_, c := newMemory(t)
	rec := &recorder{BackendOperations: c}
	rec.failUpdates.Store(3)
	log, hook := quietLogger()
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore("c1", rec, "p/x", store.WSSWithoutLease())
	run(t, ss.Run)
	require.NoError(t, ss.UpsertKey(testCtx(t), store.NewKVPair("a", "1")))
	require.Eventually(t, func() bool { return len(rec.all()) == 1 }, waitFor, tick)
	require.Equal(t, []string{"update p/x/a=1 lease=false"}, rec.all())
	n := 0
	for _, e := range hook.AllEntries() {
		if e.Message == "Failed writing keys to the kvstore. Retrying..." {
			n++
		}
	}
	require.Equal(t, 3, n)
}

func TestSyncStoreSyncedMarker(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []store.WSSOpt
		marker string
	}{
		{"default", nil, "cilium/synced/qux/foo/bar"},
		{"override", []store.WSSOpt{store.WSSWithSyncedKeyOverride("override")}, "cilium/synced/qux/override"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newMemory(t)
			rec := &recorder{BackendOperations: c}
			// The first write fails: the marker must wait for its retry.
			rec.failUpdates.Store(1)
			log, _ := quietLogger()
			ss := store.NewFactory(store.WithLogger(log)).NewSyncStore("qux", rec, "foo/bar", append(tc.opts, store.WSSWithWorkers(1))...)
			ctx := testCtx(t)
			require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("key1", "a")))
			require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("key2", "b")))
			var cb1, cb2 counter
			require.NoError(t, ss.Synced(ctx, cb1.inc, cb2.inc))
			require.NoError(t, ss.Synced(ctx, cb1.inc)) // only the first call counts
			run(t, ss.Run)

			require.Eventually(t, func() bool { return cb1.n.Load() == 1 && cb2.n.Load() == 1 }, waitFor, tick)
			writes := rec.all()
			require.Len(t, writes, 3)
			require.Regexp(t, "^update "+tc.marker+"=", writes[2])
			v, err := c.Get(ctx, tc.marker)
			require.NoError(t, err)
			_, err = time.Parse(time.RFC3339, string(v))
			require.NoError(t, err, "marker value %q is not RFC 3339", v)

			// A key upserted after Synced does not move the marker.
			require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("key3", "c")))
			require.Eventually(t, func() bool { return len(rec.all()) == 4 }, waitFor, tick)
			require.Equal(t, int64(1), cb1.n.Load())
		})
	}
}

func TestSyncStoreRewritesKeysLostWithTheLease(t *testing.T) {
	mem, c := newMemory(t)
	log, _ := quietLogger()
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore("c1", c, "p/x")
	ctx := testCtx(t)
	var cb counter
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("a", "1")))
	require.NoError(t, ss.Synced(ctx, cb.inc))
	run(t, ss.Run)
	require.Eventually(t, func() bool { return cb.n.Load() == 1 }, waitFor, tick)

	kvs, err := c.ListPrefix(ctx, "p/x/a")
	require.NoError(t, err)
	lease := kvs["p/x/a"].LeaseID
	require.NotZero(t, lease)
	require.True(t, mem.RevokeLease(lease))

	require.Eventually(t, func() bool {
		kvs, err := c.ListPrefix(ctx, "")
		return err == nil && len(kvs["p/x/a"].Data) > 0 && len(kvs["cilium/synced/c1/p/x"].Data) > 0 &&
			kvs["p/x/a"].LeaseID != lease
	}, waitFor, tick)
	require.Equal(t, int64(1), cb.n.Load(), "callbacks run once")
}

func TestSyncStoreBadInput(t *testing.T) {
	_, c := newMemory(t)
	log, hook := quietLogger()
	f := store.NewFactory(store.WithLogger(log))
	ctx := testCtx(t)

	bad := f.NewSyncStore("c1", c, "")
	require.ErrorIs(t, bad.UpsertKey(ctx, store.NewKVPair("a", "1")), store.ErrEmptyPrefix)
	require.ErrorIs(t, bad.Synced(ctx), store.ErrEmptyPrefix)
	bad.Run(ctx) // returns at once
	require.ErrorIs(t, f.NewSyncStore("c1", nil, "p").DeleteKey(ctx, store.NewKVPair("a", "")), store.ErrNoBackend)

	ss := f.NewSyncStore("c1", c, "p/x")
	stop := run(t, ss.Run)
	require.Eventually(t, func() bool { return hasLogMsg(hook, "Starting sync store") }, waitFor, tick)
	ss.Run(ctx) // a second Run returns at once
	require.True(t, hasLog(hook, store.ErrAlreadyRunning))
	stop()
}

// TestSyncStoreDropsKeysTheBackendRefuses: a value over the backend's
// request limit can never be written. It is refused alone (the rest of its
// batch is written), logged, and does not hold the synced marker back.
func TestSyncStoreDropsKeysTheBackendRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backend func(kvstore.BackendOperations) store.SyncStoreBackend
	}{
		{"batched", func(c kvstore.BackendOperations) store.SyncStoreBackend { return c }},
		{"single", func(c kvstore.BackendOperations) store.SyncStoreBackend { return &recorder{BackendOperations: c} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newMemory(t)
			log, hook := quietLogger()
			ss := store.NewFactory(store.WithLogger(log)).NewSyncStore("c1", tc.backend(c), "p/x", store.WSSWithWorkers(1))
			ctx := testCtx(t)
			require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("a", "1")))
			require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("huge", strings.Repeat("x", 2<<20))))
			require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("b", "1")))
			var synced counter
			require.NoError(t, ss.Synced(ctx, synced.inc))
			run(t, ss.Run)
			require.Eventually(t, func() bool { return synced.n.Load() == 1 }, waitFor, tick)
			require.Equal(t, map[string]string{"p/x/a": "1", "p/x/b": "1"}, list(t, c, "p/x/"))
			require.True(t, hasLog(hook, kvstore.ErrValueTooLarge))
			// The key is writable again once it changes.
			require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("huge", "small now")))
			require.Eventually(t, func() bool { return list(t, c, "p/x/")["p/x/huge"] == "small now" }, waitFor, tick)
		})
	}
}

// TestSyncStoreSplitsARefusedBatch: when the backend refuses a batch before
// sending it, its keys are written one by one.
func TestSyncStoreSplitsARefusedBatch(t *testing.T) {
	_, c := newMemory(t)
	log, hook := quietLogger()
	picky := &refusingBackend{BackendOperations: c}
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore("c1", picky, "p/x", store.WSSWithWorkers(1))
	ctx := testCtx(t)
	for _, name := range []string{"a", "b", "c"} {
		require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair(name, "1")))
	}
	run(t, ss.Run)
	require.Eventually(t, func() bool { return len(list(t, c, "p/x/")) == 3 }, waitFor, tick)
	require.True(t, hasLogMsg(hook, "Backend refused a batch: writing its keys one by one"))
	require.Equal(t, []int{3, 1, 1, 1}, picky.sizes())
}

// refusingBackend refuses transactions of more than one operation, as a
// backend with a small request limit would.
type refusingBackend struct {
	kvstore.BackendOperations
	mu sync.Mutex
	n  []int
}

func (r *refusingBackend) Txn(ctx context.Context, txn kvstore.Txn) (*kvstore.TxnResponse, error) {
	r.mu.Lock()
	r.n = append(r.n, len(txn.Then))
	r.mu.Unlock()
	if len(txn.Then) > 1 {
		return nil, fmt.Errorf("txn: %w: too big for this test", kvstore.ErrValueTooLarge)
	}
	return r.BackendOperations.(kvstore.Transactional).Txn(ctx, txn)
}

func (r *refusingBackend) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.n...)
}
