package main

import (
	"context"
	"errors"

	"github.com/hivekv/kvstore/allocator"
)

// ids gives a key a cluster-wide numeric ID with the allocator, shows that a
// second reference reuses it, and releases it. The allocator works on the
// demo's client like any other user of BackendOperations; a program would
// rather add allocator.Cell to its hive.
func (d *demo) ids(ctx context.Context) (err error) {
	const key = "k8s:app=web;"
	b, err := allocator.NewKVStoreBackend(allocator.KVStoreBackendConfig{
		BasePath: "demo/ids", Suffix: "demo-node", Backend: d.kv})
	if err != nil {
		return err
	}
	a, err := allocator.NewAllocator(b, allocator.WithMin(1), allocator.WithMax(1000),
		allocator.WithLogger(d.log))
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.WaitForInitialSync(ctx); err != nil {
		return err
	}
	id, isNew, firstUse, err := a.Allocate(ctx, key)
	if err != nil {
		return err
	}
	d.printf("ids    %s -> ID %d (new=%v, first use=%v)\n", key, id, isNew, firstUse)
	again, isNew, firstUse, err := a.Allocate(ctx, key)
	if err != nil {
		return err
	}
	d.printf("         again -> ID %d (new=%v, first use=%v)\n", again, isNew, firstUse)
	owner, err := a.GetByID(ctx, id)
	if err != nil {
		return err
	}
	d.printf("         ID %d -> %s\n", id, owner)
	for range 2 {
		last, err := a.Release(ctx, key)
		if err != nil {
			return err
		}
		if last {
			d.printf("         released (last use)\n")
		}
	}
	if again != id {
		return errors.New("the second allocation got another ID")
	}
	return nil
}
