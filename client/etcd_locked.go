package client

import (
	"context"

	"github.com/hivekv/kvstore"
)

// GetIfLocked implements kvstore.BackendOperations.
func (c *etcdClient) GetIfLocked(ctx context.Context, key string, lock kvstore.KVLocker) ([]byte, error) {
	return nil, wrapOp("get-if-locked", key, kvstore.ErrNotImplemented)
}

// DeleteIfLocked implements kvstore.BackendOperations.
func (c *etcdClient) DeleteIfLocked(ctx context.Context, key string, lock kvstore.KVLocker) error {
	return wrapOp("delete-if-locked", key, kvstore.ErrNotImplemented)
}

// UpdateIfLocked implements kvstore.BackendOperations.
func (c *etcdClient) UpdateIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) error {
	return wrapOp("update-if-locked", key, kvstore.ErrNotImplemented)
}

// UpdateIfDifferentIfLocked implements kvstore.BackendOperations.
func (c *etcdClient) UpdateIfDifferentIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) (bool, error) {
	return false, wrapOp("update-if-different-if-locked", key, kvstore.ErrNotImplemented)
}

// CreateOnlyIfLocked implements kvstore.BackendOperations.
func (c *etcdClient) CreateOnlyIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) (bool, error) {
	return false, wrapOp("create-if-locked", key, kvstore.ErrNotImplemented)
}

// ListPrefixIfLocked implements kvstore.BackendOperations.
func (c *etcdClient) ListPrefixIfLocked(ctx context.Context, prefix string, lock kvstore.KVLocker) (kvstore.KeyValuePairs, error) {
	return nil, wrapOp("list-if-locked", prefix, kvstore.ErrNotImplemented)
}
