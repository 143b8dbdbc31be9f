package etcd

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/validate"
)

// The *IfLocked operations are each one transaction whose guard is the lock's
// fence ("my lock key still has my create revision"). A lock lost to lease
// expiry, a sweep or an Unlock makes the guard fail, and the operation
// returns ErrLockLeaseExpired having read or written nothing. Checking the
// lock first and writing afterwards would not do: the lock could be lost in
// between (etcd locks are advisory; see Jepsen's etcd 3.4.3 analysis).

// lockFence returns the etcd comparison of lock. A lock from another backend
// (or none) is an error rather than a panic: its fence means nothing here.
func lockFence(lock kvstore.KVLocker) (clientv3.Cmp, error) {
	if lock == nil {
		return clientv3.Cmp{}, fmt.Errorf("%w: no lock given", kvstore.ErrForeignLocker)
	}
	switch cmp := lock.Comparator().(type) {
	case clientv3.Cmp:
		return cmp, nil
	case *clientv3.Cmp:
		if cmp != nil {
			return *cmp, nil
		}
	}
	return clientv3.Cmp{}, fmt.Errorf("%w: %T has a comparator of type %T, not an etcd comparison",
		kvstore.ErrForeignLocker, lock, lock.Comparator())
}

// lockedTxn runs ops in one transaction guarded by fence. A failed guard is
// ErrLockLeaseExpired.
func (c *etcdClient) lockedTxn(ctx context.Context, r request, fence clientv3.Cmp, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	return do(ctx, c, r, func(cli *clientv3.Client) (*clientv3.TxnResponse, error) {
		resp, err := cli.Txn(ctx).If(fence).Then(ops...).Commit()
		if err == nil && !resp.Succeeded {
			return nil, kvstore.ErrLockLeaseExpired
		}
		return resp, err
	})
}

// GetIfLocked implements kvstore.BackendOperations.
func (c *etcdClient) GetIfLocked(ctx context.Context, key string, lock kvstore.KVLocker) ([]byte, error) {
	const op = "get-if-locked"
	if err := checkKey(key); err != nil {
		return nil, wrapOp(op, key, err)
	}
	fence, err := lockFence(lock)
	if err != nil {
		return nil, wrapOp(op, key, err)
	}
	resp, err := c.lockedTxn(ctx, request{kind: kindRead, action: "GetLocked", key: key}, fence, clientv3.OpGet(key))
	if err != nil {
		return nil, wrapOp(op, key, err)
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return nil, nil
	}
	return readValue(kvs[0].Value), nil
}

// DeleteIfLocked implements kvstore.BackendOperations.
func (c *etcdClient) DeleteIfLocked(ctx context.Context, key string, lock kvstore.KVLocker) error {
	const op = "delete-if-locked"
	if err := checkKey(key); err != nil {
		return wrapOp(op, key, err)
	}
	fence, err := lockFence(lock)
	if err != nil {
		return wrapOp(op, key, err)
	}
	if _, err := c.lockedTxn(ctx, request{kind: kindDelete, action: "DeleteLocked", key: key}, fence, clientv3.OpDelete(key)); err != nil {
		return wrapOp(op, key, err)
	}
	c.leases.Release(key)
	return nil
}

// UpdateIfLocked implements kvstore.BackendOperations.
func (c *etcdClient) UpdateIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) error {
	const op = "update-if-locked"
	if err := checkWrite(key, value, c.maxRequestBytes); err != nil {
		return wrapOp(op, key, err)
	}
	fence, err := lockFence(lock)
	if err != nil {
		return wrapOp(op, key, err)
	}
	_, err = c.writeWithLease(ctx, key, lease, func(id clientv3.LeaseID) (bool, error) {
		_, err := c.lockedTxn(ctx, request{kind: kindSet, action: "UpdateIfLocked", key: key, fields: writeFields(value, lease)}, fence,
			clientv3.OpPut(key, wireString(value), putOptions(id)...))
		return true, err
	})
	return wrapOp(op, key, err)
}

// UpdateIfDifferentIfLocked implements kvstore.BackendOperations. The value
// comparison is a transaction nested in the fenced one, so the whole
// operation stays one round trip (two for a value too large to be sent
// twice).
func (c *etcdClient) UpdateIfDifferentIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) (bool, error) {
	const op = "update-if-different-if-locked"
	if err := checkWrite(key, value, c.maxRequestBytes); err != nil {
		return false, wrapOp(op, key, err)
	}
	fence, err := lockFence(lock)
	if err != nil {
		return false, wrapOp(op, key, err)
	}
	r := request{kind: kindSet, action: "UpdateIfDifferentIfLocked", key: key, fields: writeFields(value, lease)}
	written, err := c.writeWithLease(ctx, key, lease, func(id clientv3.LeaseID) (bool, error) {
		return c.putIfDifferent(ctx, r, key, value, id, &fence)
	})
	return written, wrapOp(op, key, err)
}

// CreateOnlyIfLocked implements kvstore.BackendOperations. As in the
// reference, an existing key answers (false, nil) whether or not the lock is
// still held: either way nothing is written, and "exists" is what a caller
// acts on (it re-reads the key). The key's absence and the lock are checked
// in one transaction whose Else branch reads the key to tell the two apart.
func (c *etcdClient) CreateOnlyIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) (bool, error) {
	const op = "create-if-locked"
	if err := checkWrite(key, value, c.maxRequestBytes); err != nil {
		return false, wrapOp(op, key, err)
	}
	fence, err := lockFence(lock)
	if err != nil {
		return false, wrapOp(op, key, err)
	}
	created, err := c.writeWithLease(ctx, key, lease, func(id clientv3.LeaseID) (bool, error) {
		return do(ctx, c, request{kind: kindSet, action: "CreateOnlyLocked", key: key, fields: writeFields(value, lease)},
			func(cli *clientv3.Client) (bool, error) {
				resp, err := cli.Txn(ctx).
					If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0), fence).
					Then(clientv3.OpPut(key, wireString(value), putOptions(id)...)).
					Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).
					Commit()
				switch {
				case err != nil:
					return false, err
				case resp.Succeeded:
					return true, nil
				case len(resp.Responses[0].GetResponseRange().Kvs) == 0:
					return false, kvstore.ErrLockLeaseExpired
				}
				return false, nil
			})
	})
	return created, wrapOp(op, key, err)
}

// ListPrefixIfLocked implements kvstore.BackendOperations.
func (c *etcdClient) ListPrefixIfLocked(ctx context.Context, prefix string, lock kvstore.KVLocker) (kvstore.KeyValuePairs, error) {
	const op = "list-if-locked"
	if err := validate.Prefix(prefix); err != nil {
		return nil, wrapOp(op, prefix, err)
	}
	fence, err := lockFence(lock)
	if err != nil {
		return nil, wrapOp(op, prefix, err)
	}
	resp, err := c.lockedTxn(ctx, request{kind: kindRead, action: "ListPrefixLocked", key: prefix},
		fence, clientv3.OpGet(prefix, clientv3.WithPrefix()))
	if err != nil {
		return nil, wrapOp(op, prefix, err)
	}
	return toPairs(resp.Responses[0].GetResponseRange().Kvs), nil
}
