package allocator

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/client/memory"
)

// TestCallsGiveUpWaitingForTheKeyAtTheirDeadline: a call on a key whose entry
// another call holds (a sync stuck in a leader election, say) returns with
// its ctx instead of waiting for the holder, and leaves no entry behind.
func TestCallsGiveUpWaitingForTheKeyAtTheirDeadline(t *testing.T) {
	c := memory.NewStore().NewClient(nil)
	t.Cleanup(c.Close)
	b, err := NewKVStoreBackend(KVStoreBackendConfig{BasePath: "ids", Suffix: "n1", Backend: c})
	require.NoError(t, err)
	a, err := NewAllocator(b, WithMin(1), WithMax(10))
	require.NoError(t, err)
	t.Cleanup(a.Close)

	held := a.acquire("k")
	require.NoError(t, held.lock(context.Background()))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, _, err = a.Allocate(ctx, "k")
	require.ErrorIs(t, err, context.Canceled)
	_, err = a.Release(ctx, "k")
	require.ErrorIs(t, err, context.Canceled)

	held.unlock()
	a.done("k", held, 0)
	a.mu.Lock()
	require.Empty(t, a.local, "the callers that gave up left no entry behind")
	a.mu.Unlock()

	id, isNew, firstUse, err := a.Allocate(context.Background(), "k")
	require.NoError(t, err)
	require.NotZero(t, id)
	require.True(t, isNew)
	require.True(t, firstUse)
}

// Issue 23.13: a caller giving up on a key's entry (abandon) while a Get
// peeks at it (localID) leaves no entry behind: localID counts as a user
// of the entry while it holds its lock.
func TestAbandonLeavesNoEntryBesideAGet(t *testing.T) {
	c := memory.NewStore().NewClient(nil)
	t.Cleanup(c.Close)
	b, err := NewKVStoreBackend(KVStoreBackendConfig{BasePath: "ids", Suffix: "n1", Backend: c})
	require.NoError(t, err)
	a, err := NewAllocator(b, WithMin(1), WithMax(10))
	require.NoError(t, err)
	t.Cleanup(a.Close)
	for range 3000 {
		lk := a.acquire("k")
		var wg sync.WaitGroup
		wg.Add(2)
		start := make(chan struct{})
		go func() {
			defer wg.Done()
			<-start
			for range 20 {
				a.localID("k")
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			runtime.Gosched()
			a.abandon("k", lk)
		}()
		close(start)
		wg.Wait()
		a.mu.Lock()
		n := len(a.local)
		a.mu.Unlock()
		require.Zero(t, n, "an entry with no user and no reference was left behind")
	}
}
