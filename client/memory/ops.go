package memory

import (
	"bytes"
	"context"
	"strings"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/validate"
)

// The operations mirror the etcd backend request for request: the same
// validation first, then the closed/ctx check, then one store transaction.
// Writes with lease=true take their lease from the data lease manager first
// and are retried once on a fresh lease when the store no longer has it, as
// etcd's "requested lease not found" is retried.

// Get implements kvstore.BackendOperations.
func (c *client) Get(ctx context.Context, key string) ([]byte, error) {
	if err := validate.Key(key); err != nil {
		return nil, wrapOp("get", key, err)
	}
	if err := c.begin(ctx); err != nil {
		return nil, wrapOp("get", key, err)
	}
	s := c.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.kvs[key]; ok {
		return clone(e.value), nil
	}
	return nil, nil
}

// withLease runs write with the lease for key (0 without lease), once more on
// a fresh lease if the store has dropped the lease meanwhile. fresh reports
// that the key was not attached to a lease before: a caller whose write did
// not happen Releases it.
func (c *client) withLease(key string, lease bool, write func(id int64) error) (fresh bool, err error) {
	for attempt := 0; attempt < 2; attempt++ {
		var id int64
		if lease {
			if id, _, fresh, err = c.leases.attach(key); err != nil {
				return false, err
			}
		}
		if err = write(id); !c.leases.CancelIfExpired(err, id) {
			return fresh, err
		}
	}
	return fresh, err
}

// createWithLease is withLease for the create-only writes: create reports
// whether it wrote. When it did not, a key this call attached is detached
// again, and a key attached by an earlier write stays attached (its loss
// must still be reported to the observers).
func (c *client) createWithLease(key string, lease bool, create func(id int64) (bool, error)) (bool, error) {
	var created bool
	fresh, err := c.withLease(key, lease, func(id int64) error {
		var err error
		created, err = create(id)
		return err
	})
	if err != nil {
		created = false
	}
	if !created && fresh {
		c.leases.Release(key)
	}
	return created, err
}

// Update implements kvstore.BackendOperations.
func (c *client) Update(ctx context.Context, key string, value []byte, lease bool) error {
	if err := c.beginWrite(ctx, key, value); err != nil {
		return wrapOp("update", key, err)
	}
	_, err := c.withLease(key, lease, func(id int64) error {
		c.store.mu.Lock()
		defer c.store.mu.Unlock()
		return c.store.putLocked(key, value, id)
	})
	return wrapOp("update", key, err)
}

func (c *client) beginWrite(ctx context.Context, key string, value []byte) error {
	if err := validate.Write(key, value, c.maxRequestBytes); err != nil {
		return err
	}
	return c.begin(ctx)
}

// UpdateIfDifferent implements kvstore.BackendOperations. Like the etcd
// transaction it skips the write only when the value and the lease both
// match: with lease=false the key must have no lease, with lease=true the
// lease this client attached the key to.
func (c *client) UpdateIfDifferent(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	if err := c.beginWrite(ctx, key, value); err != nil {
		return false, wrapOp("update-if-different", key, err)
	}
	var written bool
	_, err := c.withLease(key, lease, func(id int64) error {
		c.store.mu.Lock()
		defer c.store.mu.Unlock()
		written = false
		if c.store.sameLocked(key, value, id) {
			return nil
		}
		written = true
		return c.store.putLocked(key, value, id)
	})
	if err != nil {
		written = false
	}
	return written, wrapOp("update-if-different", key, err)
}

// sameLocked reports whether key exists with exactly value and lease.
func (s *Store) sameLocked(key string, value []byte, lease int64) bool {
	e, ok := s.kvs[key]
	return ok && bytes.Equal(e.value, value) && e.lease == lease
}

// CreateOnly implements kvstore.BackendOperations.
func (c *client) CreateOnly(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	if err := c.beginWrite(ctx, key, value); err != nil {
		return false, wrapOp("create", key, err)
	}
	created, err := c.createWithLease(key, lease, func(id int64) (bool, error) {
		c.store.mu.Lock()
		defer c.store.mu.Unlock()
		if _, exists := c.store.kvs[key]; exists {
			return false, nil
		}
		return true, c.store.putLocked(key, value, id)
	})
	return created, wrapOp("create", key, err)
}

// Delete implements kvstore.BackendOperations.
func (c *client) Delete(ctx context.Context, key string) error {
	if err := validate.Key(key); err != nil {
		return wrapOp("delete", key, err)
	}
	if err := c.begin(ctx); err != nil {
		return wrapOp("delete", key, err)
	}
	c.store.mu.Lock()
	c.store.deleteLocked([]string{key})
	c.store.mu.Unlock()
	c.leases.Release(key)
	return nil
}

// DeletePrefix implements kvstore.BackendOperations.
func (c *client) DeletePrefix(ctx context.Context, path string) error {
	if err := c.begin(ctx); err != nil {
		return wrapOp("delete-prefix", path, err)
	}
	s := c.store
	s.mu.Lock()
	s.deleteLocked(s.keysLocked(path))
	s.mu.Unlock()
	c.leases.ReleasePrefix(path)
	return nil
}

// ListPrefix implements kvstore.BackendOperations.
func (c *client) ListPrefix(ctx context.Context, prefix string) (kvstore.KeyValuePairs, error) {
	if err := c.begin(ctx); err != nil {
		return nil, wrapOp("list", prefix, err)
	}
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	return c.store.listLocked(prefix), nil
}

func (s *Store) listLocked(prefix string) kvstore.KeyValuePairs {
	pairs := make(kvstore.KeyValuePairs)
	for k, e := range s.kvs {
		if strings.HasPrefix(k, prefix) {
			pairs[k] = kvstore.Value{Data: clone(e.value), ModRevision: uint64(e.mod), LeaseID: e.lease}
		}
	}
	return pairs
}

// RegisterLeaseExpiredObserver implements kvstore.BackendOperations.
func (c *client) RegisterLeaseExpiredObserver(prefix string, fn func(key string)) {
	c.observers.Register(prefix, fn)
}
