package allocator_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
)

// reassign makes the state a lease loss plus GC plus another node's
// allocation leave: the master key of id now names other, and another node
// references it.
func reassign(t *testing.T, c kvstore.BackendOperations, base string, id allocator.ID, other string) {
	t.Helper()
	ctx := testCtx(t)
	require.NoError(t, c.Delete(ctx, base+"/id/"+id.String()))
	created, err := c.CreateOnly(ctx, base+"/id/"+id.String(), []byte(other), false)
	require.NoError(t, err)
	require.True(t, created)
	require.NoError(t, c.Update(ctx, base+"/value/"+other+"/n2", []byte(id.String()), false))
}

// requireMoved checks that key moved from the ID old (now other's) to an ID
// of its own: in the store, in Get, and with a Modify event.
func requireMoved(t *testing.T, c kvstore.BackendOperations, a *allocator.Allocator, events <-chan allocator.Event, base, key, other string, old allocator.ID) {
	t.Helper()
	ctx := testCtx(t)
	var ev allocator.Event
	for ev.Typ != kvstore.EventTypeModify {
		select {
		case ev = <-events:
		case <-ctx.Done():
			t.Fatal("no Modify event")
		}
	}
	require.Equal(t, key, ev.Key)
	require.Equal(t, old, ev.PrevID)
	require.NotEqual(t, old, ev.ID)
	got := listStrings(t, c, base+"/")
	require.Equal(t, other, got[base+"/id/"+old.String()], "the other key keeps its ID")
	require.Equal(t, key, got[base+"/id/"+ev.ID.String()])
	require.Equal(t, ev.ID.String(), got[base+"/value/"+key+"/n1"])
	id, err := a.Get(ctx, key)
	require.NoError(t, err)
	require.Equal(t, ev.ID, id)
	for k, v := range got {
		if v == old.String() && k != base+"/value/"+other+"/n2" {
			t.Fatalf("%s still names the other key's ID %d", k, old)
		}
	}
}

// Issue 23.1: a slave key lost with its lease is not re-created for an ID
// that meanwhile went to another key: the key moves to an ID of its own and
// the users are told. Lease-expiry path.
func TestLeaseLossNeverSharesAnID(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		c := k.b.New(t, nil, &kvstore.ExtraOptions{LeaseTTL: kvstore.MinLeaseTTL}) // see TestLeaseLossRecreatesInBatches
		events := make(chan allocator.Event, 64)
		a := newAllocator(t, c, base, "n1", allocator.WithSyncInterval(0), allocator.WithEvents(events))
		id, _, _, err := a.Allocate(ctx, "a;")
		require.NoError(t, err)
		slave := base + "/value/a;/n1"
		pairs, err := c.ListPrefix(ctx, slave)
		require.NoError(t, err)
		reassign(t, c, base, id, "b;")
		k.b.RevokeLease(t, pairs[slave].LeaseID)
		requireMoved(t, c, a, events, base, "a;", "b;", id)
	})
}

// Issue 23.1, periodic sync path: the slave key vanished (not with a lease)
// and the ID went to another key.
func TestPeriodicSyncNeverSharesAnID(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		c := k.newCli(t)
		events := make(chan allocator.Event, 64)
		a := newAllocator(t, c, base, "n1", allocator.WithSyncInterval(20*time.Millisecond), allocator.WithEvents(events))
		id, _, _, err := a.Allocate(ctx, "a;")
		require.NoError(t, err)
		require.NoError(t, c.Delete(ctx, base+"/value/a;/n1"))
		reassign(t, c, base, id, "b;")
		requireMoved(t, c, a, events, base, "a;", "b;", id)
	})
}

// Issue 23.1 on a store without transactions (the lock protocol and the
// unbatched sync).
func TestPeriodicSyncNeverSharesAnIDWithoutTxn(t *testing.T) {
	ctx := testCtx(t)
	base := basePath(t)
	c := memKit().newCli(t)
	events := make(chan allocator.Event, 64)
	a := newAllocator(t, newCounting(c, false), base, "n1", allocator.WithSyncInterval(20*time.Millisecond), allocator.WithEvents(events))
	id, _, _, err := a.Allocate(ctx, "a;")
	require.NoError(t, err)
	require.NoError(t, c.Delete(ctx, base+"/value/a;/n1"))
	reassign(t, c, base, id, "b;")
	requireMoved(t, c, a, events, base, "a;", "b;", id)
}

// writeCounter counts the requests that can write, and the transactions.
type writeCounter struct {
	kvstore.BackendOperations
	mu sync.Mutex
	n  int
}

func (w *writeCounter) inc() {
	w.mu.Lock()
	w.n++
	w.mu.Unlock()
}

func (w *writeCounter) take() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.n
	w.n = 0
	return n
}

func (w *writeCounter) CreateOnly(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	w.inc()
	return w.BackendOperations.CreateOnly(ctx, key, value, lease)
}

func (w *writeCounter) UpdateIfDifferent(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	w.inc()
	return w.BackendOperations.UpdateIfDifferent(ctx, key, value, lease)
}

func (w *writeCounter) Update(ctx context.Context, key string, value []byte, lease bool) error {
	w.inc()
	return w.BackendOperations.Update(ctx, key, value, lease)
}

func (w *writeCounter) Txn(ctx context.Context, txn kvstore.Txn) (*kvstore.TxnResponse, error) {
	w.inc()
	return w.BackendOperations.(kvstore.Transactional).Txn(ctx, txn)
}

// Issue 23.11: a lost lease with many slave keys is repaired in batches, a
// few requests in all, not one (and one goroutine) per key.
func TestLeaseLossRecreatesInBatches(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		const keys = 300
		ctx := testCtx(t)
		base := basePath(t)
		// The shortest lease TTL: etcd's client learns of a revoked lease
		// at its next keep-alive, a third of the TTL after the last one.
		c := k.b.New(t, nil, &kvstore.ExtraOptions{LeaseTTL: kvstore.MinLeaseTTL})
		w := &writeCounter{BackendOperations: c}
		a := newAllocator(t, w, base, "n1", allocator.WithSyncInterval(0))
		for i := range keys {
			_, _, _, err := a.Allocate(ctx, fmt.Sprintf("k%03d;", i))
			require.NoError(t, err)
		}
		pairs, err := c.ListPrefix(ctx, base+"/value/")
		require.NoError(t, err)
		require.Len(t, pairs, keys)
		var lease int64
		leases := map[int64]int{}
		for _, v := range pairs {
			lease = v.LeaseID
			leases[v.LeaseID]++
		}
		require.Len(t, leases, 1)
		w.take()
		k.b.RevokeLease(t, lease)
		require.Eventually(t, func() bool {
			pairs, err := c.ListPrefix(ctx, base+"/value/")
			if err != nil || len(pairs) != keys {
				return false
			}
			for _, v := range pairs {
				if v.LeaseID == lease {
					return false
				}
			}
			return true
		}, testTimeout, 10*time.Millisecond)
		// Each batch is one transaction; the lease-expiry observer may
		// report the keys in several bursts, each a batch of its own.
		require.LessOrEqual(t, w.take(), 2*(keys/50+1), "requests to re-create %d slave keys", keys)
	})
}

// The periodic sync of keys that are all in place reads them in batches and
// writes nothing (no revision changes).
func TestPeriodicSyncOfIntactKeysWritesNothing(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		const keys = 120
		ctx := testCtx(t)
		base := basePath(t)
		c := k.newCli(t)
		w := &writeCounter{BackendOperations: c}
		a := newAllocator(t, w, base, "n1", allocator.WithSyncInterval(5*time.Millisecond))
		for i := range keys {
			_, _, _, err := a.Allocate(ctx, fmt.Sprintf("k%03d;", i))
			require.NoError(t, err)
		}
		snapshot := listStringsRev(t, c, base+"/")
		w.take()
		n := 0
		require.Eventually(t, func() bool { n += w.take(); return n >= 3*(keys/50+1) }, testTimeout, 5*time.Millisecond,
			"several sync rounds, each a read transaction per batch")
		require.Equal(t, snapshot, listStringsRev(t, c, base+"/"))
	})
}

// listStringsRev returns the keys under prefix with their values and mod
// revisions.
func listStringsRev(t testing.TB, c kvstore.BackendOperations, prefix string) map[string]string {
	t.Helper()
	pairs, err := c.ListPrefix(testCtx(t), prefix)
	require.NoError(t, err)
	out := make(map[string]string, len(pairs))
	for k, v := range pairs {
		out[k] = fmt.Sprintf("%s@%d", v.Data, v.ModRevision)
	}
	return out
}
