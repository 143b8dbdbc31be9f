package memory

import (
	"context"
	"fmt"

	"github.com/hivekv/kvstore"
)

// Connected implements kvstore.BackendOperations. An in-memory client is
// connected from the start: the channel is closed at once, unless ctx has
// already ended or the client is closed (then it carries that error first).
func (c *client) Connected(ctx context.Context) <-chan error {
	out := make(chan error, 1)
	switch {
	case c.ctx.Err() != nil:
		out <- kvstore.ErrClientClosed
	case ctx.Err() != nil:
		out <- ctx.Err()
	}
	close(out)
	return out
}

// Disconnected implements kvstore.BackendOperations: the channel belongs to
// the client's current session, the lock lease of kvstore.InitLockPath. It
// is closed when that lease is revoked (Store.RevokeLease) or the client is
// closed; a call after a revoke starts a new session, as the etcd backend
// does.
func (c *client) Disconnected() <-chan struct{} {
	_, done, err := c.lockLeases.session(kvstore.InitLockPath)
	if err != nil {
		closed := make(chan struct{})
		close(closed)
		return closed
	}
	return done
}

// Status implements kvstore.BackendOperations.
func (c *client) Status() *kvstore.Status {
	return &kvstore.Status{
		State: kvstore.StateOK,
		Msg: fmt.Sprintf("in-memory: store %s, %d keys, leases=%d, lock leases=%d",
			c.store.name, c.store.Len(), c.leases.TotalLeases(), c.lockLeases.TotalLeases()),
	}
}

// StatusCheckErrors implements kvstore.BackendOperations. The in-memory
// store has nothing to check: the channel never delivers and is closed by
// Close.
func (c *client) StatusCheckErrors() <-chan error { return c.statusErrs }
