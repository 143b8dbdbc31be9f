package allocator_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore/allocator"
)

// A node dies (client closed, its lease revoked): its slave keys vanish; GC
// frees the IDs nobody else uses after two rounds, and never one that
// another node still uses.
func TestNodeDeathAndGC(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		observer := k.newCli(t)
		dying := k.newCli(t)
		a1 := newAllocator(t, dying, base, "dying")
		a2 := newAllocator(t, k.newCli(t), base, "alive")
		ids := map[string]allocator.ID{}
		for i := range 6 {
			key := fmt.Sprintf("key%d;", i)
			id, _, _, err := a1.Allocate(ctx, key)
			require.NoError(t, err)
			ids[key] = id
		}
		for i := range 3 { // the alive node shares key0..key2
			key := fmt.Sprintf("key%d;", i)
			id, _, _, err := a2.Allocate(ctx, key)
			require.NoError(t, err)
			require.Equal(t, ids[key], id)
		}
		pairs, err := observer.ListPrefix(ctx, base+"/value/key5;/dying")
		require.NoError(t, err)
		lease := pairs[base+"/value/key5;/dying"].LeaseID
		require.NotZero(t, lease)

		a1.Close()
		dying.Close()
		k.b.RevokeLease(t, lease)
		require.Eventually(t, func() bool {
			for name := range listStrings(t, observer, base+"/value/") {
				if len(name) > 6 && name[len(name)-6:] == "/dying" {
					return false
				}
			}
			return true
		}, testTimeout, 10e6, "the dead node's slave keys must vanish")

		gc := newAllocator(t, observer, base, "", allocator.WithMin(1), allocator.WithMax(100000))
		limiter := rate.NewLimiter(rate.Inf, 1)
		stale, stats, err := gc.RunGC(ctx, limiter, nil)
		require.NoError(t, err)
		require.Equal(t, allocator.GCStats{Alive: 6, Deleted: 0}, *stats, "the first round only marks")
		require.Len(t, stale, 3)

		stale, stats, err = gc.RunGC(ctx, limiter, stale)
		require.NoError(t, err)
		require.Equal(t, allocator.GCStats{Alive: 3, Deleted: 3}, *stats)
		require.Empty(t, stale)
		masters := listStrings(t, observer, base+"/id/")
		for key, id := range ids {
			_, present := masters[base+"/id/"+id.String()]
			used := key == "key0;" || key == "key1;" || key == "key2;"
			require.Equal(t, used, present, "key %s ID %d", key, id)
		}
	})
}

// A master key marked in one round but changed before the next (here:
// referenced again and released, so rewritten) is not deleted.
func TestGCSparesRevivedIDs(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		c := k.newCli(t)
		a := newAllocator(t, c, base, "n")
		id, _, _, err := a.Allocate(ctx, "k;")
		require.NoError(t, err)
		_, err = a.Release(ctx, "k;")
		require.NoError(t, err)

		limiter := rate.NewLimiter(rate.Inf, 1)
		stale, _, err := a.RunGC(ctx, limiter, nil)
		require.NoError(t, err)
		require.Len(t, stale, 1)
		// Used again between the rounds: the ID survives the second. (The
		// cache must know the ID to reuse it rather than make a new one.)
		require.Eventually(t, func() bool { return cached(a, id) == "k;" }, testTimeout, 10e6)
		again, _, _, err := a.Allocate(ctx, "k;")
		require.NoError(t, err)
		require.Equal(t, id, again, "an unused master key of the key is reused")
		_, stats, err := a.RunGC(ctx, limiter, stale)
		require.NoError(t, err)
		require.Zero(t, stats.Deleted)

		// Released again, and the mark taken with another revision:
		// rewritten meanwhile, so not deleted either.
		_, err = a.Release(ctx, "k;")
		require.NoError(t, err)
		stale, _, err = a.RunGC(ctx, limiter, nil)
		require.NoError(t, err)
		require.NoError(t, c.Update(ctx, base+"/id/"+id.String(), []byte("k;"), false))
		_, stats, err = a.RunGC(ctx, limiter, stale)
		require.NoError(t, err)
		require.Zero(t, stats.Deleted)
	})
}

// RunLocksGC removes a lock held, unchanged, for a whole round: the oldest
// key of its path only.
func TestLocksGC(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		c := k.newCli(t)
		a := newAllocator(t, c, base, "n")
		holder := k.newCli(t)
		lock, err := holder.LockPath(ctx, base+"/locks/k;")
		require.NoError(t, err)
		t.Cleanup(func() { _ = lock.Unlock(ctx) })
		stale, err := a.RunLocksGC(ctx, nil)
		require.NoError(t, err)
		require.Len(t, stale, 1)
		require.Len(t, listStrings(t, c, base+"/locks/"), 1)
		stale, err = a.RunLocksGC(ctx, stale)
		require.NoError(t, err)
		require.Empty(t, stale)
		require.Empty(t, listStrings(t, c, base+"/locks/"))
	})
}

// cached returns the key the Allocator's cache has for id.
func cached(a *allocator.Allocator, id allocator.ID) string {
	var key string
	a.ForeachCache(func(i allocator.ID, k string) {
		if i == id {
			key = k
		}
	})
	return key
}

// With a GC interval the Allocator runs the rounds itself: a released ID
// is gone after two of them, and a stale lock too.
func TestGCLoop(t *testing.T) {
	ctx := testCtx(t)
	k := memKit()
	base := basePath(t)
	c := k.newCli(t)
	a := newAllocator(t, c, base, "n", allocator.WithGCInterval(20*time.Millisecond))
	id, _, _, err := a.Allocate(ctx, "gone;")
	require.NoError(t, err)
	kept, _, _, err := a.Allocate(ctx, "kept;")
	require.NoError(t, err)
	_, err = a.Release(ctx, "gone;")
	require.NoError(t, err)
	stale, err := k.newCli(t).LockPath(ctx, base+"/locks/stale;")
	require.NoError(t, err)
	t.Cleanup(func() { _ = stale.Unlock(ctx) })
	require.Eventually(t, func() bool {
		all := listStrings(t, c, base+"/")
		_, gone := all[base+"/id/"+id.String()]
		_, held := all[base+"/id/"+kept.String()]
		return !gone && held && len(listStrings(t, c, base+"/locks/")) == 0
	}, testTimeout, 10*time.Millisecond)
}
