package etcd

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/validate"
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
	return readValue(resp.Kvs[0].Value), nil
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

// Update implements kvstore.BackendOperations.
func (c *etcdClient) Update(ctx context.Context, key string, value []byte, lease bool) error {
	if err := checkWrite(key, value, c.maxRequestBytes); err != nil {
		return wrapOp("update", key, err)
	}
	_, err := c.writeWithLease(ctx, key, lease, func(id clientv3.LeaseID) (bool, error) {
		_, err := do(ctx, c, request{kind: kindSet, action: "Update", key: key, fields: writeFields(value, lease)},
			func(cli *clientv3.Client) (*clientv3.PutResponse, error) {
				return cli.Put(ctx, key, wireString(value), putOptions(id)...)
			})
		return true, err
	})
	return wrapOp("update", key, err)
}

// UpdateIfDifferent implements kvstore.BackendOperations. It is one
// transaction that compares value and lease and writes only when either
// differs (two requests for a value too large to be sent twice).
func (c *etcdClient) UpdateIfDifferent(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	if err := checkWrite(key, value, c.maxRequestBytes); err != nil {
		return false, wrapOp("update-if-different", key, err)
	}
	r := request{kind: kindSet, action: "UpdateIfDifferent", key: key, fields: writeFields(value, lease)}
	written, err := c.writeWithLease(ctx, key, lease, func(id clientv3.LeaseID) (bool, error) {
		return c.putIfDifferent(ctx, r, key, value, id, nil)
	})
	return written, wrapOp("update-if-different", key, err)
}

// CreateOnly implements kvstore.BackendOperations.
func (c *etcdClient) CreateOnly(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	if err := checkWrite(key, value, c.maxRequestBytes); err != nil {
		return false, wrapOp("create", key, err)
	}
	created, err := c.writeWithLease(ctx, key, lease, func(id clientv3.LeaseID) (bool, error) {
		resp, err := do(ctx, c, request{kind: kindSet, action: "CreateOnly", key: key, fields: writeFields(value, lease)},
			func(cli *clientv3.Client) (*clientv3.TxnResponse, error) {
				return cli.Txn(ctx).
					If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
					Then(clientv3.OpPut(key, wireString(value), putOptions(id)...)).
					Commit()
			})
		return err == nil && resp.Succeeded, err
	})
	return created, wrapOp("create", key, err)
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
	if err := validate.Prefix(path); err != nil {
		return wrapOp("delete-prefix", path, err)
	}
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
	if err := validate.Prefix(prefix); err != nil {
		return nil, wrapOp("list", prefix, err)
	}
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
	c.observers.SetPrefix(prefix, fn)
}

// ObserveLeaseExpired implements kvstore.BackendOperations.
func (c *etcdClient) ObserveLeaseExpired(prefix string, fn func(key string)) (stop func()) {
	return c.observers.Add(prefix, fn)
}
