package allocator_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
)

// counting counts the requests an Allocator sends through a client (the
// watch excluded). With txn false it hides Transactional: the allocator
// must then use the lock protocol.
type counting struct {
	kvstore.BackendOperations
	txn bool

	mu    sync.Mutex
	calls map[string]int
	errs  []error // of Txn calls
}

func newCounting(c kvstore.BackendOperations, txn bool) *counting {
	return &counting{BackendOperations: c, txn: txn, calls: map[string]int{}}
}

func (c *counting) count(op string) {
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
}

func (c *counting) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

func (c *counting) LockPath(ctx context.Context, path string) (kvstore.KVLocker, error) {
	c.count("LockPath")
	return c.BackendOperations.LockPath(ctx, path)
}

func (c *counting) Get(ctx context.Context, key string) ([]byte, error) {
	c.count("Get")
	return c.BackendOperations.Get(ctx, key)
}

func (c *counting) ListPrefix(ctx context.Context, prefix string) (kvstore.KeyValuePairs, error) {
	c.count("ListPrefix")
	return c.BackendOperations.ListPrefix(ctx, prefix)
}

func (c *counting) ListPrefixIfLocked(ctx context.Context, prefix string, lock kvstore.KVLocker) (kvstore.KeyValuePairs, error) {
	c.count("ListPrefixIfLocked")
	return c.BackendOperations.ListPrefixIfLocked(ctx, prefix, lock)
}

func (c *counting) CreateOnlyIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) (bool, error) {
	c.count("CreateOnlyIfLocked")
	return c.BackendOperations.CreateOnlyIfLocked(ctx, key, value, lease, lock)
}

func (c *counting) UpdateIfDifferentIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) (bool, error) {
	c.count("UpdateIfDifferentIfLocked")
	return c.BackendOperations.UpdateIfDifferentIfLocked(ctx, key, value, lease, lock)
}

// transactional adds Txn to a counting client.
type transactional struct{ *counting }

func (c transactional) Txn(ctx context.Context, txn kvstore.Txn) (*kvstore.TxnResponse, error) {
	c.count("Txn")
	resp, err := c.BackendOperations.(kvstore.Transactional).Txn(ctx, txn)
	c.mu.Lock()
	if err != nil {
		c.errs = append(c.errs, err)
	} else if !resp.Succeeded {
		c.errs = append(c.errs, fmt.Errorf("txn did not apply: %+v", txn))
	}
	c.mu.Unlock()
	return resp, err
}

func wrap(c *counting) kvstore.BackendOperations {
	if c.txn {
		return transactional{c}
	}
	return c
}

// A new key costs one transaction and a reference to an existing ID one
// more; no lock is taken. Without Transactional, the lock protocol.
func TestOneRoundTrip(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		c1, c2 := newCounting(k.newCli(t), true), newCounting(k.newCli(t), true)
		m := allocator.NewMetrics()
		a1 := newAllocator(t, wrap(c1), base, "node1", allocator.WithMetrics(m))
		a2 := newAllocator(t, wrap(c2), base, "node2")
		c1.take()
		c2.take()

		id, isNew, _, err := a1.Allocate(ctx, "key;")
		require.NoError(t, err)
		require.True(t, isNew)
		require.Equal(t, map[string]int{"Txn": 1}, c1.take(), "errors: %v", c1.errs)
		require.Equal(t, 1.0, testutil.ToFloat64(m.Allocations.WithLabelValues("new")))
		require.Equal(t, 0.0, testutil.ToFloat64(m.LockFallbacks))

		// a2 knows the ID once its cache has it: then one transaction.
		require.Eventually(t, func() bool { return cached(a2, id) == "key;" }, testTimeout, 10e6)
		c2.take()
		got, isNew, _, err := a2.Allocate(ctx, "key;")
		require.NoError(t, err)
		require.False(t, isNew)
		require.Equal(t, id, got)
		require.Equal(t, map[string]int{"Txn": 1}, c2.take(), "errors: %v", c2.errs)
		require.Empty(t, listStrings(t, c1, base+"/locks/"))

		// Without Transactional: the reference's lock protocol.
		c3 := newCounting(k.newCli(t), false)
		a3 := newAllocator(t, wrap(c3), base, "node3")
		c3.take()
		_, isNew, _, err = a3.Allocate(ctx, "other;")
		require.NoError(t, err)
		require.True(t, isNew)
		calls := c3.take()
		require.Equal(t, 1, calls["LockPath"])
		require.Equal(t, 1, calls["CreateOnlyIfLocked"])
		require.Zero(t, calls["Txn"])
	})
}

// A held lock on the key makes the one-round-trip path give way to the
// lock protocol, which waits for it.
func TestLockedKeyFallsBackToLock(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		c := k.newCli(t)
		m := allocator.NewMetrics()
		a := newAllocator(t, c, base, "n", allocator.WithMetrics(m))
		other := k.newCli(t)
		lock, err := other.LockPath(ctx, base+"/locks/key;")
		require.NoError(t, err)
		type result struct {
			id  allocator.ID
			err error
		}
		done := make(chan result, 1)
		go func() {
			id, _, _, err := a.Allocate(ctx, "key;")
			done <- result{id, err}
		}()
		require.Eventually(t, func() bool { return testutil.ToFloat64(m.LockFallbacks) == 1 }, testTimeout, 10e6)
		require.Equal(t, 1.0, testutil.ToFloat64(m.Conflicts.WithLabelValues("locked")))
		require.NoError(t, lock.Unlock(ctx))
		r := <-done
		require.NoError(t, r.err)
		require.NotEqual(t, allocator.NoID, r.id)
	})
}
