package allocator_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore/allocator"
)

// GC rounds run back to back while two nodes allocate and release: GC may
// free released IDs, but never one a node holds. At the end every key a
// node holds still has its master key naming it, and every slave key names
// the ID of a master key of its key.
func TestGCNeverFreesHeldIDs(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		const keys = 20
		ctx := testCtx(t)
		base := basePath(t)
		obs := k.newCli(t)
		gc := newAllocator(t, obs, base, "")
		runCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			var marks map[string]uint64
			for runCtx.Err() == nil {
				next, _, err := gc.RunGC(runCtx, rate.NewLimiter(rate.Inf, 1), marks)
				if err == nil {
					marks = next
				}
			}
		}()
		type held struct {
			a    *allocator.Allocator
			node string
			ids  map[string]allocator.ID
		}
		nodes := make([]*held, 2)
		for n := range nodes {
			nodes[n] = &held{a: newAllocator(t, k.newCli(t), base, fmt.Sprintf("n%d", n)), node: fmt.Sprintf("n%d", n), ids: map[string]allocator.ID{}}
		}
		var nodesWG sync.WaitGroup
		for _, h := range nodes {
			nodesWG.Add(1)
			go func() {
				defer nodesWG.Done()
				for range 150 {
					key := fmt.Sprintf("k%02d;", rand.IntN(keys))
					if _, ok := h.ids[key]; ok {
						_, err := h.a.Release(ctx, key)
						require.NoError(t, err)
						delete(h.ids, key)
						continue
					}
					id, _, _, err := h.a.Allocate(ctx, key)
					require.NoError(t, err)
					h.ids[key] = id
				}
			}()
		}
		nodesWG.Wait()
		stop()
		wg.Wait()
		all := listStrings(t, obs, base+"/")
		for _, h := range nodes {
			for key, id := range h.ids {
				require.Equal(t, key, all[base+"/id/"+id.String()], "%s holds %q with ID %d: its master key is gone", h.node, key, id)
				require.Equal(t, id.String(), all[base+"/value/"+key+"/"+h.node])
			}
		}
		requireConsistentSlaves(t, obs, base, 1, 100000, false)
	})
}
