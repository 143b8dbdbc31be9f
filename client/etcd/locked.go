package etcd

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
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
// ErrLockLeaseExpired. fields are extra trace fields (nil unless tracing).
func (c *etcdClient) lockedTxn(ctx context.Context, kind, action, key string, fence clientv3.Cmp,
	fields logrus.Fields, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	cli, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	start := c.metrics.now()
	resp, err := cli.Txn(ctx).If(fence).Then(ops...).Commit()
	c.limiter.Release()
	if err == nil && !resp.Succeeded {
		err = kvstore.ErrLockLeaseExpired
	}
	c.metrics.observe(kind, action, key, start, err)
	if tracing.Load() {
		f := logrus.Fields{"key": key}
		for k, v := range fields {
			f[k] = v
		}
		Trace(action, err, f)
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// writeFields are the trace fields of a write; nil while tracing is off so
// that the fast path allocates nothing.
func writeFields(value []byte, lease bool) logrus.Fields {
	if !tracing.Load() {
		return nil
	}
	return logrus.Fields{"valueBytes": len(value), "lease": lease}
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
	resp, err := c.lockedTxn(ctx, kindRead, "GetLocked", key, fence, nil, clientv3.OpGet(key))
	if err != nil {
		return nil, wrapOp(op, key, err)
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return nil, nil
	}
	return kvs[0].Value, nil
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
	if _, err := c.lockedTxn(ctx, kindDelete, "DeleteLocked", key, fence, nil, clientv3.OpDelete(key)); err != nil {
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
	err = retryLostLease(func() (bool, error) {
		id, _, err := c.leaseFor(ctx, key, lease)
		if err != nil {
			return false, err
		}
		_, err = c.lockedTxn(ctx, kindSet, "UpdateIfLocked", key, fence, writeFields(value, lease),
			clientv3.OpPut(key, string(value), putOptions(id)...))
		return c.leases.CancelIfExpired(err, id), err
	})
	return wrapOp(op, key, err)
}

// UpdateIfDifferentIfLocked implements kvstore.BackendOperations. The value
// comparison is a transaction nested in the fenced one, so the whole
// operation stays one round trip.
func (c *etcdClient) UpdateIfDifferentIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) (bool, error) {
	const op = "update-if-different-if-locked"
	if err := checkWrite(key, value, c.maxRequestBytes); err != nil {
		return false, wrapOp(op, key, err)
	}
	fence, err := lockFence(lock)
	if err != nil {
		return false, wrapOp(op, key, err)
	}
	var written bool
	err = retryLostLease(func() (bool, error) {
		id, _, err := c.leaseFor(ctx, key, lease)
		if err != nil {
			return false, err
		}
		same := []clientv3.Cmp{
			clientv3.Compare(clientv3.Value(key), "=", string(value)),
			clientv3.Compare(clientv3.LeaseValue(key), "=", int64(id)),
		}
		put := clientv3.OpPut(key, string(value), putOptions(id)...)
		resp, err := c.lockedTxn(ctx, kindSet, "UpdateIfDifferentIfLocked", key, fence, writeFields(value, lease),
			clientv3.OpTxn(same, nil, []clientv3.Op{put}))
		if err != nil {
			return c.leases.CancelIfExpired(err, id), err
		}
		written = !resp.Responses[0].GetResponseTxn().Succeeded
		return false, nil
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
	var created, fresh bool
	err = retryLostLease(func() (bool, error) {
		var id clientv3.LeaseID
		var err error
		id, fresh, err = c.leaseFor(ctx, key, lease)
		if err != nil {
			return false, err
		}
		cli, err := c.begin(ctx)
		if err != nil {
			return false, err
		}
		start := c.metrics.now()
		resp, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0), fence).
			Then(clientv3.OpPut(key, string(value), putOptions(id)...)).
			Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).
			Commit()
		c.limiter.Release()
		switch {
		case err != nil:
		case resp.Succeeded:
			created = true
		case len(resp.Responses[0].GetResponseRange().Kvs) == 0:
			err = kvstore.ErrLockLeaseExpired
		}
		c.metrics.observe(kindSet, "CreateOnlyLocked", key, start, err)
		if tracing.Load() {
			Trace("CreateOnlyLocked", err, logrus.Fields{"key": key, "valueBytes": len(value), "lease": lease})
		}
		return err != nil && c.leases.CancelIfExpired(err, id), err
	})
	if !created && fresh {
		// Not written: the key stays off the lease it was just put on; a
		// key attached by an earlier write stays attached.
		c.leases.Release(key)
	}
	return created, wrapOp(op, key, err)
}

// ListPrefixIfLocked implements kvstore.BackendOperations.
func (c *etcdClient) ListPrefixIfLocked(ctx context.Context, prefix string, lock kvstore.KVLocker) (kvstore.KeyValuePairs, error) {
	const op = "list-if-locked"
	fence, err := lockFence(lock)
	if err != nil {
		return nil, wrapOp(op, prefix, err)
	}
	resp, err := c.lockedTxn(ctx, kindRead, "ListPrefixLocked", prefix, fence, nil,
		clientv3.OpGet(prefix, clientv3.WithPrefix()))
	if err != nil {
		return nil, wrapOp(op, prefix, err)
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	pairs := make(kvstore.KeyValuePairs, len(kvs))
	for _, kv := range kvs {
		pairs[string(kv.Key)] = kvstore.Value{Data: kv.Value, ModRevision: uint64(kv.ModRevision), LeaseID: kv.Lease}
	}
	return pairs, nil
}
