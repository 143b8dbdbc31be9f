package client

import (
	"context"

	"github.com/hivekv/kvstore"
)

// lockState is the etcd client's lock bookkeeping.
type lockState struct{}

func (c *etcdClient) initLock() {}

// LockPath implements kvstore.BackendOperations.
func (c *etcdClient) LockPath(ctx context.Context, path string) (kvstore.KVLocker, error) {
	return nil, wrapOp("lock", path, kvstore.ErrNotImplemented)
}
