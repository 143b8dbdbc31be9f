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
		return valueOf(e), nil
	}
	return nil, nil
}

// writeWithLease runs write with the lease for key (0 without lease), once
// more on a fresh lease if the store has dropped the lease meanwhile. write
// reports whether it wrote the key. Afterwards the lease bookkeeping matches
// the store: a key this call attached but did not write is detached again (a
// key attached by an earlier write stays: its loss must still be reported),
// and a key written without lease is detached from the lease it was on. The
// store applies all or nothing, so an error means nothing was written.
func (c *client) writeWithLease(key string, lease bool, write func(id int64) (bool, error)) (bool, error) {
	var (
		wrote, fresh bool
		err          error
	)
	for attempt := 0; attempt < 2; attempt++ {
		var id int64
		if lease {
			var attached bool
			if id, _, attached, err = c.leases.attach(key); err != nil {
				break
			}
			fresh = fresh || attached
		}
		if wrote, err = write(id); !c.leases.CancelIfExpired(err, id) {
			break
		}
	}
	if err != nil {
		wrote = false
	}
	if (!wrote && fresh) || (wrote && !lease) {
		c.leases.Release(key)
	}
	return wrote, err
}

// Update implements kvstore.BackendOperations.
func (c *client) Update(ctx context.Context, key string, value []byte, lease bool) error {
	if err := c.beginWrite(ctx, key, value); err != nil {
		return wrapOp("update", key, err)
	}
	_, err := c.writeWithLease(key, lease, func(id int64) (bool, error) {
		c.store.mu.Lock()
		defer c.store.mu.Unlock()
		return true, c.store.putLocked(key, value, id)
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
	written, err := c.writeWithLease(key, lease, func(id int64) (bool, error) {
		c.store.mu.Lock()
		defer c.store.mu.Unlock()
		if c.store.sameLocked(key, value, id) {
			return false, nil
		}
		return true, c.store.putLocked(key, value, id)
	})
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
	created, err := c.writeWithLease(key, lease, func(id int64) (bool, error) {
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
	if err := validate.Prefix(path); err != nil {
		return wrapOp("delete-prefix", path, err)
	}
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
	if err := validate.Prefix(prefix); err != nil {
		return nil, wrapOp("list", prefix, err)
	}
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
			pairs[k] = kvstore.Value{Data: valueOf(e), ModRevision: uint64(e.mod), LeaseID: e.lease}
		}
	}
	return pairs
}

// RegisterLeaseExpiredObserver implements kvstore.BackendOperations.
func (c *client) RegisterLeaseExpiredObserver(prefix string, fn func(key string)) {
	c.observers.SetPrefix(prefix, fn)
}

// ObserveLeaseExpired implements kvstore.BackendOperations.
func (c *client) ObserveLeaseExpired(prefix string, fn func(key string)) (stop func()) {
	return c.observers.Add(prefix, fn)
}
