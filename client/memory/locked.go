package memory

import (
	"context"
	"fmt"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/validate"
)

// The *IfLocked operations check the lock's fence and act in the same store
// transaction, so no other write can slip between check and action; a lost
// lock fails them with kvstore.ErrLockLeaseExpired and nothing is read or
// written.

// fenceOf extracts the fence of a lock taken from this store.
func (c *client) fenceOf(lock kvstore.KVLocker) (fence, error) {
	if lock == nil {
		return fence{}, fmt.Errorf("%w: no lock given", kvstore.ErrForeignLocker)
	}
	f, ok := lock.Comparator().(fence)
	if !ok {
		return fence{}, fmt.Errorf("%w: comparator %T is not an in-memory lock", kvstore.ErrForeignLocker, lock.Comparator())
	}
	if f.store != c.store {
		return fence{}, fmt.Errorf("%w: lock belongs to in-memory store %q, not %q", kvstore.ErrForeignLocker, f.store.name, c.store.name)
	}
	return f, nil
}

// lockedTxn runs txn under the store lock, after the closed and foreign-lock
// checks; txn checks the fence itself, so that CreateOnlyIfLocked can look at
// the key first.
func (c *client) lockedTxn(ctx context.Context, lock kvstore.KVLocker, txn func(f fence) error) error {
	if err := c.begin(ctx); err != nil {
		return err
	}
	f, err := c.fenceOf(lock)
	if err != nil {
		return err
	}
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	return txn(f)
}

func checkHeld(f fence) error {
	if !f.heldLocked() {
		return kvstore.ErrLockLeaseExpired
	}
	return nil
}

// GetIfLocked implements kvstore.BackendOperations.
func (c *client) GetIfLocked(ctx context.Context, key string, lock kvstore.KVLocker) ([]byte, error) {
	if err := validate.Key(key); err != nil {
		return nil, wrapOp("get-if-locked", key, err)
	}
	var value []byte
	err := c.lockedTxn(ctx, lock, func(f fence) error {
		if err := checkHeld(f); err != nil {
			return err
		}
		if e, ok := c.store.kvs[key]; ok {
			value = valueOf(e)
		}
		return nil
	})
	return value, wrapOp("get-if-locked", key, err)
}

// DeleteIfLocked implements kvstore.BackendOperations.
func (c *client) DeleteIfLocked(ctx context.Context, key string, lock kvstore.KVLocker) error {
	if err := validate.Key(key); err != nil {
		return wrapOp("delete-if-locked", key, err)
	}
	err := c.lockedTxn(ctx, lock, func(f fence) error {
		if err := checkHeld(f); err != nil {
			return err
		}
		c.store.deleteLocked([]string{key})
		return nil
	})
	if err == nil {
		c.leases.Release(key)
	}
	return wrapOp("delete-if-locked", key, err)
}

// UpdateIfLocked implements kvstore.BackendOperations.
func (c *client) UpdateIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) error {
	if err := validate.Write(key, value, c.maxRequestBytes); err != nil {
		return wrapOp("update-if-locked", key, err)
	}
	_, err := c.writeWithLease(key, lease, func(id int64) (bool, error) {
		return true, c.lockedTxn(ctx, lock, func(f fence) error {
			if err := checkHeld(f); err != nil {
				return err
			}
			return c.store.putLocked(key, value, id)
		})
	})
	return wrapOp("update-if-locked", key, err)
}

// UpdateIfDifferentIfLocked implements kvstore.BackendOperations.
func (c *client) UpdateIfDifferentIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) (bool, error) {
	if err := validate.Write(key, value, c.maxRequestBytes); err != nil {
		return false, wrapOp("update-if-different-if-locked", key, err)
	}
	written, err := c.writeWithLease(key, lease, func(id int64) (bool, error) {
		var written bool
		err := c.lockedTxn(ctx, lock, func(f fence) error {
			if err := checkHeld(f); err != nil {
				return err
			}
			if c.store.sameLocked(key, value, id) {
				return nil
			}
			written = true
			return c.store.putLocked(key, value, id)
		})
		return written, err
	})
	return written, wrapOp("update-if-different-if-locked", key, err)
}

// CreateOnlyIfLocked implements kvstore.BackendOperations. An existing key
// gives (false, nil) whether or not the lock is still held, as the etcd
// transaction's Else branch reports it.
func (c *client) CreateOnlyIfLocked(ctx context.Context, key string, value []byte, lease bool, lock kvstore.KVLocker) (bool, error) {
	if err := validate.Write(key, value, c.maxRequestBytes); err != nil {
		return false, wrapOp("create-if-locked", key, err)
	}
	created, err := c.writeWithLease(key, lease, func(id int64) (bool, error) {
		var created bool
		err := c.lockedTxn(ctx, lock, func(f fence) error {
			if _, exists := c.store.kvs[key]; exists {
				return nil
			}
			if err := checkHeld(f); err != nil {
				return err
			}
			created = true
			return c.store.putLocked(key, value, id)
		})
		return created, err
	})
	return created, wrapOp("create-if-locked", key, err)
}

// ListPrefixIfLocked implements kvstore.BackendOperations.
func (c *client) ListPrefixIfLocked(ctx context.Context, prefix string, lock kvstore.KVLocker) (kvstore.KeyValuePairs, error) {
	if err := validate.Prefix(prefix); err != nil {
		return nil, wrapOp("list-if-locked", prefix, err)
	}
	var pairs kvstore.KeyValuePairs
	err := c.lockedTxn(ctx, lock, func(f fence) error {
		if err := checkHeld(f); err != nil {
			return err
		}
		pairs = c.store.listLocked(prefix)
		return nil
	})
	return pairs, wrapOp("list-if-locked", prefix, err)
}
