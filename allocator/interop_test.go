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

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
)

// referenceAllocate is the reference's (Cilium v1.16) lock protocol, written
// over BackendOperations as its pkg/allocator + pkg/kvstore/allocator run
// it: lock B/locks/<key>, list the slave keys under B/value/<key> and take
// the first that matches the key exactly; with none, create the master key
// of a random ID fenced on the lock (another ID if it exists); then write
// this node's slave key fenced on the lock; unlock.
func referenceAllocate(ctx context.Context, c kvstore.BackendOperations, base, node, key string, min, max allocator.ID) (allocator.ID, error) {
	lock, err := c.LockPath(ctx, base+"/locks/"+key)
	if err != nil {
		return 0, err
	}
	defer func() { _ = lock.Unlock(context.WithoutCancel(ctx)) }()
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
			node := fmt.Sprintf("ref%d", n)
			for g := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range keys {
						key := fmt.Sprintf("app=%03d;", (i*7+g*31+n*13)%keys)
						id, err := referenceAllocate(ctx, c, base, node, key, minID, maxID)
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
