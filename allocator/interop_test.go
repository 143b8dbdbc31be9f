package allocator_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
)

// refCache models the reference's cache of master keys (its mainCache, fed
// by a watch of B/id/): key -> the ID of the master key seen last for it.
// A nil *refCache knows nothing (a watch that has not delivered yet).
type refCache struct {
	mu    sync.Mutex
	byKey map[string]allocator.ID
	byID  map[allocator.ID]string
	ready chan struct{}
}

// newRefCache watches base/id/ on c until the test ends.
func newRefCache(t *testing.T, c kvstore.BackendOperations, base string) *refCache {
	ctx, cancel := context.WithCancel(context.Background())
	r := &refCache{byKey: map[string]allocator.ID{}, byID: map[allocator.ID]string{}, ready: make(chan struct{})}
	w := c.ListAndWatch(ctx, base+"/id/", 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.Events {
			r.handle(base, ev)
		}
	}()
	t.Cleanup(func() { cancel(); w.Stop(); <-done })
	select {
	case <-r.ready:
	case <-time.After(testTimeout):
		t.Fatal("reference cache: no initial list")
	}
	return r
}

func (r *refCache) handle(base string, ev kvstore.KeyValueEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Typ == kvstore.EventTypeListDone {
		close(r.ready)
		return
	}
	id, err := allocator.ParseID(strings.TrimPrefix(ev.Key, base+"/id/"))
	if err != nil {
		return
	}
	switch ev.Typ {
	case kvstore.EventTypeDelete:
		if k, ok := r.byID[id]; ok && r.byKey[k] == id {
			delete(r.byKey, k)
		}
		delete(r.byID, id)
	default:
		r.byID[id] = string(ev.Value)
		r.byKey[string(ev.Value)] = id
	}
}

func (r *refCache) get(key string) allocator.ID {
	if r == nil {
		return allocator.NoID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byKey[key]
}

// referenceAllocate is the reference's (Cilium v1.16) lock protocol, written
// over BackendOperations as its pkg/allocator + pkg/kvstore/allocator run
// it: lock B/locks/<key>; take the ID its cache of master keys knows for
// the key (GetIfLocked asks the cache first), else list the slave keys
// under B/value/<key> and take the first that matches the key exactly;
// with none, create the master key of a random ID fenced on the lock
// (another ID if it exists); then write this node's slave key fenced on
// the lock; unlock.
func referenceAllocate(ctx context.Context, c kvstore.BackendOperations, cache *refCache, base, node, key string, min, max allocator.ID) (allocator.ID, error) {
	lock, err := c.LockPath(ctx, base+"/locks/"+key)
	if err != nil {
		return 0, err
	}
	defer func() { _ = lock.Unlock(context.WithoutCancel(ctx)) }()
	if id := cache.get(key); id != allocator.NoID {
		_, err = c.UpdateIfDifferentIfLocked(ctx, base+"/value/"+key+"/"+node, []byte(id.String()), true, lock)
		return id, err
	}
	prefix := base + "/value/" + key
	pairs, err := c.ListPrefixIfLocked(ctx, prefix, lock)
	if err != nil {
		return 0, err
	}
	var names []string
	for k := range pairs {
		// prefixMatchesKey: the last "/" of k is right after the prefix.
		if strings.LastIndexByte(k, '/') == len(prefix) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	id := allocator.NoID
	if len(names) > 0 {
		id, err = allocator.ParseID(string(pairs[names[0]].Data))
		if err != nil {
			return 0, err
		}
	} else {
		for attempt := 0; ; attempt++ {
			if attempt == 1000 {
				return 0, errors.New("reference: no free ID found")
			}
			cand := min + allocator.ID(rand.Uint64N(uint64(max-min+1)))
			created, err := c.CreateOnlyIfLocked(ctx, base+"/id/"+cand.String(), []byte(key), false, lock)
			if err != nil {
				return 0, err
			}
			if created {
				id = cand
				break
			}
		}
	}
	_, err = c.UpdateIfDifferentIfLocked(ctx, prefix+"/"+node, []byte(id.String()), true, lock)
	return id, err
}

// The reference's lock protocol and ours, running concurrently on the same
// keys and base path, never give a key two IDs or an ID two keys.
func TestInteropWithReferenceLockProtocol(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		const keys = 40
		const minID, maxID = 1, 200 // small: random IDs collide
		ctx := testCtx(t)
		base := basePath(t)
		h := newHistory()
		var wg sync.WaitGroup
		for n := range 2 {
			c := k.newCli(t)
			cache := newRefCache(t, c, base)
			node := fmt.Sprintf("ref%d", n)
			for g := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range keys {
						key := fmt.Sprintf("app=%03d;", (i*7+g*31+n*13)%keys)
						id, err := referenceAllocate(ctx, c, cache, base, node, key, minID, maxID)
						h.record(node, key, id, err)
					}
				}()
			}
		}
		for n := range 2 {
			a := newAllocator(t, k.newCli(t), base, fmt.Sprintf("ours%d", n),
				allocator.WithMin(minID), allocator.WithMax(maxID))
			for g := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range keys {
						key := fmt.Sprintf("app=%03d;", (i*11+g*17+n*5)%keys)
						id, _, _, err := a.Allocate(ctx, key)
						h.record(fmt.Sprintf("ours%d", n), key, id, err)
					}
				}()
			}
		}
		wg.Wait()
		require.Zero(t, h.fails)
		require.Empty(t, h.violations())
		requireConsistentStore(t, k.newCli(t), base, minID, maxID)
	})
}

// Issue 23.14: a key this node has just created and released at once keeps
// its slave key for the release delay, so that a reference process whose
// cache has not seen the new master key yet finds the ID in the slave keys
// instead of creating a second master key. Without the delay (the control)
// it does create one.
func TestInteropQuickReleaseOfANewKey(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		for _, delay := range []time.Duration{time.Minute, 0} {
			ctx := testCtx(t)
			base := basePath(t)
			a := newAllocator(t, k.newCli(t), base, "ours", allocator.WithReleaseDelay(delay))
			id, isNew, _, err := a.Allocate(ctx, "k;")
			require.NoError(t, err)
			require.True(t, isNew)
			_, err = a.Release(ctx, "k;")
			require.NoError(t, err)
			// The reference's watch has not delivered the master key yet.
			got, err := referenceAllocate(ctx, k.newCli(t), nil, base, "ref", "k;", 1, 100000)
			require.NoError(t, err)
			if delay > 0 {
				require.Equal(t, id, got, "the reference found the ID in our slave key")
				requireConsistentStore(t, k.newCli(t), base, 1, 100000)
			} else {
				require.NotEqual(t, id, got, "control: without the delay the window is open")
			}
		}
	})
}

// The slave key kept by the release delay goes once the delay is over, and
// a key allocated again meanwhile keeps it.
func TestReleaseDelay(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		c := k.newCli(t)
		a := newAllocator(t, c, base, "n", allocator.WithReleaseDelay(300*time.Millisecond))
		slave := base + "/value/k;/n"
		id, _, _, err := a.Allocate(ctx, "k;")
		require.NoError(t, err)
		last, err := a.Release(ctx, "k;")
		require.NoError(t, err)
		require.True(t, last)
		require.Contains(t, listStrings(t, c, base+"/value/"), slave)
		again, isNew, _, err := a.Allocate(ctx, "k;")
		require.NoError(t, err)
		require.Equal(t, id, again)
		require.False(t, isNew)
		_, err = a.Release(ctx, "k;")
		require.NoError(t, err) // referenced, not created: deleted at once
		require.NotContains(t, listStrings(t, c, base+"/value/"), slave)

		_, _, _, err = a.Allocate(ctx, "j;")
		require.NoError(t, err)
		_, err = a.Release(ctx, "j;")
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			_, ok := listStrings(t, c, base+"/value/")[base+"/value/j;/n"]
			return !ok
		}, testTimeout, 10*time.Millisecond)
	})
}

// Issue 23.14: with two master keys of a key and no slave key (the state a
// lost race leaves), our allocator picks one and deletes the other, so a
// reference process whose cache offered the other converges on the same ID.
func TestInteropTwoMasterKeysConverge(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		c := k.newCli(t)
		seedMaster(t, c, base, 1, "k;")
		seedMaster(t, c, base, 2, "k;")
		ref := newRefCache(t, k.newCli(t), base)
		a := newAllocator(t, k.newCli(t), base, "ours")
		id, _, _, err := a.Allocate(ctx, "k;")
		require.NoError(t, err)
		require.Len(t, listStrings(t, c, base+"/id/"), 1, "the extra master key is gone")
		// The reference's cache drops the deleted master key (and then
		// knows the key by the other, or not at all: it lists the slave
		// keys).
		other := allocator.ID(3) - id
		require.Eventually(t, func() bool { return ref.get("k;") != other }, testTimeout, 10*time.Millisecond)
		got, err := referenceAllocate(ctx, k.newCli(t), ref, base, "ref", "k;", 1, 100000)
		require.NoError(t, err)
		require.Equal(t, id, got)
		requireConsistentStore(t, c, base, 1, 100000)
	})
}

// Issue 23.14: under the lock a slave key's ID is adopted only after its
// master key is checked: a missing master key is re-created for the key (as
// the reference's master-key protection does), another key's is not
// adopted (the key gets another ID).
func TestSlaveKeyIDAdoptedOnlyWithItsMasterKey(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		for _, txn := range []bool{true, false} {
			ctx := testCtx(t)
			base := basePath(t)
			c := k.newCli(t)
			require.NoError(t, c.Update(ctx, base+"/value/gone;/x", []byte("5"), false))
			require.NoError(t, c.Update(ctx, base+"/value/stale;/x", []byte("6"), false))
			seedMaster(t, c, base, 6, "other;")
			a := newAllocator(t, wrap(newCounting(k.newCli(t), txn)), base, "ours")
			id, _, _, err := a.Allocate(ctx, "gone;")
			require.NoError(t, err)
			require.Equal(t, allocator.ID(5), id, "txn=%v", txn)
			require.Equal(t, "gone;", listStrings(t, c, base+"/id/")[base+"/id/5"])
			id, _, _, err = a.Allocate(ctx, "stale;")
			require.NoError(t, err)
			require.NotEqual(t, allocator.ID(6), id, "txn=%v", txn)
			got := listStrings(t, c, base+"/")
			require.Equal(t, "other;", got[base+"/id/6"])
			require.Equal(t, "stale;", got[base+"/id/"+id.String()])
			require.Equal(t, id.String(), got[base+"/value/stale;/ours"])
		}
	})
}
