package faults

import (
	"context"

	"github.com/hivekv/kvstore"
)

// Client is the workloads' handle on a recorded backend: the key
// operations, locks and transactions of a Backend, with locks as *Lock so
// that workloads can name their holding. BackendOperations is the backend
// itself, unrecorded (for watchers).
type Client struct {
	kvstore.BackendOperations
	rb *Backend
}

// Wrap returns b with its operations recorded as worker's.
func (r *Recorder) Wrap(worker int, b kvstore.BackendOperations) *Client {
	return &Client{BackendOperations: b, rb: r.WrapBackend(worker, b)}
}

// Backend returns the recording backend behind c, for code that takes a
// kvstore.BackendOperations (and kvstore.Transactional).
func (c *Client) Backend() *Backend { return c.rb }

// Close closes the client and remembers when, so that later ErrClientClosed
// errors count as "did not happen".
func (c *Client) Close() { c.rb.Close() }

// Get records kvstore Get.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) { return c.rb.Get(ctx, key) }

// Update records kvstore Update.
func (c *Client) Update(ctx context.Context, key string, value []byte, lease bool) error {
	return c.rb.Update(ctx, key, value, lease)
}

// Delete records kvstore Delete.
func (c *Client) Delete(ctx context.Context, key string) error { return c.rb.Delete(ctx, key) }

// DeletePrefix records kvstore DeletePrefix.
func (c *Client) DeletePrefix(ctx context.Context, prefix string) error {
	return c.rb.DeletePrefix(ctx, prefix)
}

// ListPrefix records kvstore ListPrefix.
func (c *Client) ListPrefix(ctx context.Context, prefix string) (kvstore.KeyValuePairs, error) {
	var pairs kvstore.KeyValuePairs
	err := c.rb.do(Input{Kind: KindListPrefix, Key: prefix}, func(out *Output) (err error) {
		pairs, err = c.rb.BackendOperations.ListPrefix(ctx, prefix)
		out.KVs = sortedKVs(pairs)
		return err
	})
	return pairs, err
}

// CreateOnly records kvstore CreateOnly.
func (c *Client) CreateOnly(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	return c.rb.CreateOnly(ctx, key, value, lease)
}

// UpdateIfDifferent records kvstore UpdateIfDifferent.
func (c *Client) UpdateIfDifferent(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	return c.rb.UpdateIfDifferent(ctx, key, value, lease)
}

// Txn records kvstore.Transactional Txn; l, if not nil, fences it.
func (c *Client) Txn(ctx context.Context, txn kvstore.Txn, l *Lock) (*kvstore.TxnResponse, error) {
	if l != nil {
		txn.Lock = l.KVLocker
	}
	return c.rb.Txn(ctx, txn)
}

// LockPath records a successful acquisition as a Lock operation, a failed
// one as a LockAttempt.
func (c *Client) LockPath(ctx context.Context, path string) (*Lock, error) {
	l, err := c.rb.LockPath(ctx, path)
	if err != nil {
		return nil, err
	}
	rl := l.(*recLocker)
	return &Lock{KVLocker: rl, Token: rl.token, Key: rl.key}, nil
}

// Unlock records the release of l.
func (c *Client) Unlock(ctx context.Context, l *Lock) error { return l.Unlock(ctx) }

// GetIfLocked records kvstore GetIfLocked.
func (c *Client) GetIfLocked(ctx context.Context, key string, l *Lock) ([]byte, error) {
	return c.rb.GetIfLocked(ctx, key, l.KVLocker)
}

// UpdateIfLocked records kvstore UpdateIfLocked.
func (c *Client) UpdateIfLocked(ctx context.Context, key string, value []byte, lease bool, l *Lock) error {
	return c.rb.UpdateIfLocked(ctx, key, value, lease, l.KVLocker)
}

// DeleteIfLocked records kvstore DeleteIfLocked.
func (c *Client) DeleteIfLocked(ctx context.Context, key string, l *Lock) error {
	return c.rb.DeleteIfLocked(ctx, key, l.KVLocker)
}

// CreateOnlyIfLocked records kvstore CreateOnlyIfLocked.
func (c *Client) CreateOnlyIfLocked(ctx context.Context, key string, value []byte, lease bool, l *Lock) (bool, error) {
	return c.rb.CreateOnlyIfLocked(ctx, key, value, lease, l.KVLocker)
}

// UpdateIfDifferentIfLocked records kvstore UpdateIfDifferentIfLocked.
func (c *Client) UpdateIfDifferentIfLocked(ctx context.Context, key string, value []byte, lease bool, l *Lock) (bool, error) {
	return c.rb.UpdateIfDifferentIfLocked(ctx, key, value, lease, l.KVLocker)
}
