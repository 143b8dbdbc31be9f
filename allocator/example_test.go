package allocator_test

import (
	"context"
	"fmt"

	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/client/memory"
)

// Two nodes share one store: the first allocation of a key creates its ID,
// the other node's allocation references it.
func ExampleNewAllocator() {
	ctx := context.Background()
	store := memory.NewStore()
	newNode := func(name string) *allocator.Allocator {
		b, err := allocator.NewKVStoreBackend(allocator.KVStoreBackendConfig{
			BasePath: "cilium/state/identities/v1", Suffix: name, Backend: store.NewClient(nil),
		})
		if err != nil {
			panic(err)
		}
		a, err := allocator.NewAllocator(b, allocator.WithMin(1000), allocator.WithMax(1000))
		if err != nil {
			panic(err)
		}
		if err := a.WaitForInitialSync(ctx); err != nil {
			panic(err)
		}
		return a
	}
	node1, node2 := newNode("node1"), newNode("node2")
	defer node1.Close()
	defer node2.Close()

	id, isNew, firstUse, _ := node1.Allocate(ctx, "k8s:app=web;")
	fmt.Println(id, isNew, firstUse)
	id, isNew, firstUse, _ = node2.Allocate(ctx, "k8s:app=web;")
	fmt.Println(id, isNew, firstUse)
	_, _, _, err := node1.Allocate(ctx, "k8s:app=db;")
	fmt.Println(err)
	// Output:
	// 1000 true true
	// 1000 false true
	// allocator: no more available IDs in configured space: every ID of [1000, 1000] is in use
}
