package etcd

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
)

// Get implements kvstore.BackendOperations.
func (c *etcdClient) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, wrapOp("get", key, err)
	}
	resp, err := do(ctx, c, request{kind: kindRead, action: "Get", key: key},
		func(cli *clientv3.Client) (*clientv3.GetResponse, error) { return cli.Get(ctx, key) })
	if err != nil {
		return nil, wrapOp("get", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return resp.Kvs[0].Value, nil
}

// leaseFor returns the data lease key is written with, or NoLease; fresh
// reports that this call attached key to it (see leaseManager.GetLeaseID).
func (c *etcdClient) leaseFor(ctx context.Context, key string, lease bool) (id clientv3.LeaseID, fresh bool, err error) {
	if !lease {
		return clientv3.NoLease, false, nil
	}
	if _, err := c.client(ctx); err != nil {
		return clientv3.NoLease, false, err
	}
	return c.leases.GetLeaseID(ctx, key)
}

// putOption attaches the lease, if any.
func putOptions(id clientv3.LeaseID) []clientv3.OpOption {
	if id == clientv3.NoLease {
		return nil
	}
	return []clientv3.OpOption{clientv3.WithLease(id)}
}

// Update implements kvstore.BackendOperations. A write refused because the
// lease vanished on the server is retried once on a fresh lease: the server
// applied nothing, so the retry cannot write twice.
func (c *etcdClient) Update(ctx context.Context, key string, value []byte, lease bool) error {
	if err := checkWrite(key, value, c.maxRequestBytes); err != nil {
		return wrapOp("update", key, err)
	}
	err := retryLostLease(func() (bool, error) { return c.update(ctx, key, value, lease) })
	return wrapOp("update", key, err)
}

func (c *etcdClient) update(ctx context.Context, key string, value []byte, lease bool) (retry bool, err error) {
	id, _, err := c.leaseFor(ctx, key, lease)
	if err != nil {
		return false, err
	}
	_, err = do(ctx, c, request{kind: kindSet, action: "Update", key: key, fields: writeFields(value, lease)},
		func(cli *clientv3.Client) (*clientv3.PutResponse, error) {
			return cli.Put(ctx, key, string(value), putOptions(id)...)
		})
	return c.leases.CancelIfExpired(err, id), err
}

// retryLostLease runs attempt, and once more if it reports that the data
// lease it used was gone on the server (the lease manager has dropped it, so
// the second attempt gets a fresh one). The server applied nothing the first
// time, so the retry cannot write twice.
func retryLostLease(attempt func() (retry bool, err error)) error {
	retry, err := attempt()
	if retry {
		_, err = attempt()
	}
	return err
}

// UpdateIfDifferent implements kvstore.BackendOperations. It is one
// transaction: compare value and lease, write only when either differs.
func (c *etcdClient) UpdateIfDifferent(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	if err := checkWrite(key, value, c.maxRequestBytes); err != nil {
		return false, wrapOp("update-if-different", key, err)
	}
	var written bool
	err := retryLostLease(func() (retry bool, err error) {
		written, retry, err = c.updateIfDifferent(ctx, key, value, lease)
		return retry, err
	})
	return written, wrapOp("update-if-different", key, err)
}

func (c *etcdClient) updateIfDifferent(ctx context.Context, key string, value []byte, lease bool) (written, retry bool, err error) {
	id, _, err := c.leaseFor(ctx, key, lease)
	if err != nil {
		return false, false, err
	}
	resp, err := do(ctx, c, request{kind: kindSet, action: "UpdateIfDifferent", key: key, fields: writeFields(value, lease)},
		func(cli *clientv3.Client) (*clientv3.TxnResponse, error) {
			return cli.Txn(ctx).
				If(clientv3.Compare(clientv3.Value(key), "=", string(value)),
					clientv3.Compare(clientv3.LeaseValue(key), "=", int64(id))).
				Else(clientv3.OpPut(key, string(value), putOptions(id)...)).
				Commit()
		})
	if err != nil {
		return false, c.leases.CancelIfExpired(err, id), err
	}
	return !resp.Succeeded, false, nil
}

// CreateOnly implements kvstore.BackendOperations.
func (c *etcdClient) CreateOnly(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	if err := checkWrite(key, value, c.maxRequestBytes); err != nil {
		return false, wrapOp("create", key, err)
	}
	var created bool
	err := retryLostLease(func() (retry bool, err error) {
		created, retry, err = c.createOnly(ctx, key, value, lease)
		return retry, err
	})
	return created, wrapOp("create", key, err)
}

func (c *etcdClient) createOnly(ctx context.Context, key string, value []byte, lease bool) (created, retry bool, err error) {
	id, fresh, err := c.leaseFor(ctx, key, lease)
	if err != nil {
		return false, false, err
	}
	resp, err := do(ctx, c, request{kind: kindSet, action: "CreateOnly", key: key, fields: writeFields(value, lease)},
		func(cli *clientv3.Client) (*clientv3.TxnResponse, error) {
			return cli.Txn(ctx).
				If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
				Then(clientv3.OpPut(key, string(value), putOptions(id)...)).
				Commit()
		})
	if err != nil {
		return false, c.leases.CancelIfExpired(err, id), err
	}
	if !resp.Succeeded && fresh {
		// Not written: the key stays off the lease it was just put on.
		c.leases.Release(key)
	}
	return resp.Succeeded, false, nil
}

// Delete implements kvstore.BackendOperations.
func (c *etcdClient) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return wrapOp("delete", key, err)
	}
	_, err := do(ctx, c, request{kind: kindDelete, action: "Delete", key: key},
		func(cli *clientv3.Client) (*clientv3.DeleteResponse, error) { return cli.Delete(ctx, key) })
	if err != nil {
		return wrapOp("delete", key, err)
	}
	c.leases.Release(key)
	return nil
}

// DeletePrefix implements kvstore.BackendOperations.
func (c *etcdClient) DeletePrefix(ctx context.Context, path string) error {
	_, err := do(ctx, c, request{kind: kindDelete, action: "DeletePrefix", key: path, keyField: "prefix"},
		func(cli *clientv3.Client) (*clientv3.DeleteResponse, error) {
			return cli.Delete(ctx, path, clientv3.WithPrefix())
		})
	if err != nil {
		return wrapOp("delete-prefix", path, err)
	}
	c.leases.ReleasePrefix(path)
	return nil
}

// ListPrefix implements kvstore.BackendOperations.
func (c *etcdClient) ListPrefix(ctx context.Context, prefix string) (kvstore.KeyValuePairs, error) {
	resp, err := do(ctx, c, request{kind: kindRead, action: "ListPrefix", key: prefix, keyField: "prefix"},
		func(cli *clientv3.Client) (*clientv3.GetResponse, error) {
			return cli.Get(ctx, prefix, clientv3.WithPrefix())
		})
	if err != nil {
		return nil, wrapOp("list", prefix, err)
	}
	return toPairs(resp.Kvs), nil
}

// RegisterLeaseExpiredObserver implements kvstore.BackendOperations.
func (c *etcdClient) RegisterLeaseExpiredObserver(prefix string, fn func(key string)) {
	c.observers.Register(prefix, fn)
}
