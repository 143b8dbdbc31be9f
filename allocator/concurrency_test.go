package allocator_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/allocator"
)

// 3 clients × 8 goroutines allocate 500 keys, each goroutine all of them
// from its own starting point: every key gets exactly one ID, IDs are
// unique and in range, and the store agrees.
func TestConcurrentAllocationsAcrossClients(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		const clients, goroutines, keys = 3, 8, 500
		const minID, maxID = 1000, 1999 // room for 500 keys, and collisions
		ctx := testCtx(t)
		base := basePath(t)
		h := newHistory()
		rec := newOpRecorder()
		allocs := make([]*allocator.Allocator, clients)
		for i := range allocs {
			allocs[i] = newAllocator(t, k.newCli(t), base, fmt.Sprintf("node%d", i),
				allocator.WithMin(minID), allocator.WithMax(maxID))
		}
		var wg sync.WaitGroup
		for ci, a := range allocs {
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					who := fmt.Sprintf("node%d/g%d", ci, g)
					start := (ci*goroutines + g) * 61
					for i := range keys {
						key := fmt.Sprintf("k8s:app=a%03d;", (start+i)%keys)
						call := rec.now()
						id, _, _, err := a.Allocate(ctx, key)
						h.record(who, key, id, err)
						rec.allocate(ci*goroutines+g, key, call, id, err)
					}
				}()
			}
		}
		wg.Wait()
		require.Zero(t, h.fails)
		require.Empty(t, h.violations())
		rec.check(t)
		require.Len(t, h.byKey, keys)
		requireConsistentStore(t, k.newCli(t), base, minID, maxID)
	})
}
