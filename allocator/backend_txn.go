package allocator

import (
	"context"
	"errors"
	"fmt"

	"github.com/hivekv/kvstore"
)

// txnBackend is the one-round-trip side of a Backend, implemented by the
// kvstore backend when its store is kvstore.Transactional. It is
// unexported: an Allocator on any other Backend uses the lock protocol.
type txnBackend interface {
	// tryCreate creates the master key of id and this node's slave key of
	// key in one transaction, if id is free, key has no slave key and
	// nobody holds (or waits for) key's lock. A nil error with a non-nil
	// conflict means nothing was written; the conflict says why.
	tryCreate(ctx context.Context, id ID, key string) (*conflict, error)
	// tryReference writes this node's slave key of key (value id) in one
	// transaction, if the master key of id names key, nobody holds key's
	// lock, and some slave key of the key exists and every one names id.
	// Any conflict says slavesUnclear: the lock protocol decides.
	tryReference(ctx context.Context, id ID, key string) (*conflict, error)
	// createApplied re-reads, after an unknown outcome of tryCreate,
	// whether it was applied: the master key of id names key and this
	// node's slave key holds id.
	createApplied(ctx context.Context, id ID, key string) (bool, error)
	// staleItems and restoreSlaves are the batched sync (backend_sync.go).
	staleItems(ctx context.Context, items []syncItem) ([]syncItem, error)
	restoreSlaves(ctx context.Context, items []syncItem) (bool, error)
}

// conflict says why a one-round-trip transaction did not apply.
type conflict struct {
	// locked: a lock key of the key exists (a holder, a waiter or a GC).
	locked bool
	// taken: the master key of the ID exists.
	taken bool
	// owner is the key the master key of the ID names: "" if it is free,
	// or if its value is empty (taken says which).
	owner string
	// existing is the ID of an exact slave key of the key (NoID if none
	// was seen).
	existing ID
	// slavesUnclear: slave keys exist under the key's prefix but the
	// first one read belongs to a longer key, or says another ID than
	// the one referenced: only the lock protocol can tell.
	slavesUnclear bool
}

func (c *conflict) String() string {
	return fmt.Sprintf("locked=%v taken=%v owner=%q existing=%d unclear=%v", c.locked, c.taken, c.owner, c.existing, c.slavesUnclear)
}

// asTxn returns the one-round-trip side of b, if it has one.
func asTxn(b Backend) txnBackend {
	if kb, ok := b.(*kvstoreBackend); ok && kb.tx != nil {
		return kb
	}
	return nil
}

// lockKeys is the prefix of the lock keys of key's lock path.
func (l layout) lockKeys(key string) string { return l.lock(key) + "/" }

func (k *kvstoreBackend) tryCreate(ctx context.Context, id ID, key string) (*conflict, error) {
	master, slaves := k.keys.master(id), k.keys.slaves(key)
	resp, err := k.tx.Txn(ctx, kvstore.Txn{
		If: []kvstore.Cmp{
			kvstore.CmpMissing(master),
			kvstore.CmpNoPrefix(slaves),
			kvstore.CmpNoPrefix(k.keys.lockKeys(key)),
		},
		Then: []kvstore.Op{
			// The master key has no lease, as Cilium's: an ID
			// outlives its nodes until GC finds it unused.
			kvstore.OpPut(master, []byte(key), false),
			kvstore.OpPut(slaves+k.node, []byte(id.String()), true),
		},
		Else: []kvstore.Op{
			kvstore.OpGet(master),
			kvstore.OpList(slaves, 1),
			kvstore.OpList(k.keys.lockKeys(key), 1),
		},
	})
	if err != nil {
		return nil, err
	}
	if resp.Succeeded {
		return nil, nil
	}
	if len(resp.Results) != 3 {
		return nil, fmt.Errorf("allocator: create transaction returned %d results, want 3", len(resp.Results))
	}
	c := &conflict{locked: len(resp.Results[2].KVs) > 0}
	if kvs := resp.Results[0].KVs; len(kvs) > 0 {
		c.taken, c.owner = true, string(kvs[0].Data)
	}
	if kvs := resp.Results[1].KVs; len(kvs) > 0 {
		c.slavesUnclear = true
		if isSlaveOf(slaves, kvs[0].Key) {
			if v, err := ParseID(string(kvs[0].Data)); err == nil {
				c.existing, c.slavesUnclear = v, false
			}
		}
	}
	return c, nil
}

func (k *kvstoreBackend) tryReference(ctx context.Context, id ID, key string) (*conflict, error) {
	slaves := k.keys.slaves(key)
	resp, err := k.tx.Txn(ctx, kvstore.Txn{
		If: []kvstore.Cmp{
			kvstore.CmpValue(k.keys.master(id), []byte(key)),
			kvstore.CmpNoPrefix(k.keys.lockKeys(key)),
			// Some node references id already and every slave key under
			// the key's prefix names id: no second ID of the key is in
			// use (one made while id had no slave key), so a lock-protocol
			// reader listing the slave keys can only find id. A slave key
			// of a longer key (keys contain "/") that names another ID
			// fails this too; the lock protocol then reads them all.
			kvstore.CmpPrefixValue(slaves, []byte(id.String())),
		},
		Then: []kvstore.Op{kvstore.OpPut(slaves+k.node, []byte(id.String()), true)},
		// No Else: whatever failed (the lock is held, the ID was freed or
		// given to another key, no or other slave keys), the lock protocol
		// sorts it out, and a reference that needs no reads when it
		// succeeds costs less.
	})
	if err != nil {
		return nil, err
	}
	if !resp.Succeeded {
		return &conflict{slavesUnclear: true}, nil
	}
	return nil, nil
}

func (k *kvstoreBackend) createApplied(ctx context.Context, id ID, key string) (bool, error) {
	resp, err := k.tx.Txn(ctx, kvstore.Txn{
		Then: []kvstore.Op{kvstore.OpGet(k.keys.master(id)), kvstore.OpGet(k.keys.slave(key, k.node))},
	})
	if err != nil {
		return false, err
	}
	if len(resp.Results) != 2 {
		return false, errors.New("allocator: re-read returned no results")
	}
	m, s := resp.Results[0].KVs, resp.Results[1].KVs
	return len(m) == 1 && string(m[0].Data) == key && len(s) == 1 && string(s[0].Data) == id.String(), nil
}
