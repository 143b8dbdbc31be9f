package allocator

import (
	"context"
	"fmt"

	"github.com/hivekv/kvstore"
)

// syncItem is one key this node holds, with its ID.
type syncItem struct {
	key string
	id  ID
}

// maxSyncBatch bounds the keys of one sync transaction: its reads take two
// operations per key, and a transaction holds at most kvstore.MaxTxnOps
// (one less when it is fenced on a lock).
const maxSyncBatch = (kvstore.MaxTxnOps - 1) / 2

// staleItems returns, in one read-only transaction, the items whose master
// key does not name the item's key or whose slave key (this node's) does
// not hold the item's ID: those the sync must look at.
func (k *kvstoreBackend) staleItems(ctx context.Context, items []syncItem) ([]syncItem, error) {
	ops := make([]kvstore.Op, 0, 2*len(items))
	for _, it := range items {
		ops = append(ops, kvstore.OpGet(k.keys.master(it.id)), kvstore.OpGet(k.keys.slave(it.key, k.node)))
	}
	resp, err := k.tx.Txn(ctx, kvstore.Txn{Then: ops})
	if err != nil {
		return nil, err
	}
	if len(resp.Results) != len(ops) {
		return nil, fmt.Errorf("allocator: sync read returned %d results, want %d", len(resp.Results), len(ops))
	}
	var stale []syncItem
	for i, it := range items {
		m, s := resp.Results[2*i].KVs, resp.Results[2*i+1].KVs
		if len(m) != 1 || string(m[0].Data) != it.key || len(s) != 1 || string(s[0].Data) != it.id.String() {
			stale = append(stale, it)
		}
	}
	return stale, nil
}

// restoreSlaves writes this node's slave key of every item in one
// transaction, provided the master key of every item still names its key.
// false: some master key does not (missing, or another key's) and nothing
// was written; the caller looks at the items one by one.
func (k *kvstoreBackend) restoreSlaves(ctx context.Context, items []syncItem) (bool, error) {
	cmps := make([]kvstore.Cmp, 0, len(items))
	ops := make([]kvstore.Op, 0, len(items))
	for _, it := range items {
		cmps = append(cmps, kvstore.CmpValue(k.keys.master(it.id), []byte(it.key)))
		ops = append(ops, kvstore.OpPut(k.keys.slave(it.key, k.node), []byte(it.id.String()), true))
	}
	resp, err := k.tx.Txn(ctx, kvstore.Txn{If: cmps, Then: ops})
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}
