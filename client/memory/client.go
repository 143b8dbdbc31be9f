package memory

import (
	"context"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/observers"
	"github.com/hivekv/kvstore/client/internal/operr"
	"github.com/hivekv/kvstore/client/internal/pathlock"
	"github.com/hivekv/kvstore/client/internal/validate"
)

// client is one in-memory backend client. Like an etcd client it has its own
// leases (data and lock), its own lease-expired observers and its own
// process-local lock table; the data lives in the shared Store.
//
// Lifetime: a client is connected as soon as it exists. Close cancels ctx
// (watchers and lock waits end), waits for the background goroutines, ends
// the client's leases (their keys expire one TTL later) and closes
// StatusCheckErrors.
type client struct {
	store *Store
	extra *kvstore.ExtraOptions
	log   logrus.FieldLogger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu     sync.Mutex // guards closed and wg.Add against Close's wg.Wait
	closed bool
	wg     sync.WaitGroup

	leases     *leaseManager // lease=true writes
	lockLeases *leaseManager // locks and the connection session
	observers  observers.Set
	locks      *pathlock.Table

	maxRequestBytes int
	statusErrs      chan error // never sent to; closed by Close
	closeOnce       sync.Once
}

// New returns a client of the process-wide store named name ("" = "default").
// It is connected at once; the caller must Close it.
func New(name string, extra *kvstore.ExtraOptions) kvstore.BackendOperations {
	return Open(name).NewClient(extra)
}

// NewClient returns a client of s. It is connected at once; the caller must
// Close it.
func (s *Store) NewClient(extra *kvstore.ExtraOptions) kvstore.BackendOperations {
	ctx, cancel := context.WithCancel(context.Background())
	c := &client{
		store:           s,
		extra:           extra,
		log:             extra.Log("kvstore").WithFields(logrus.Fields{"backend": kvstore.InMemoryBackendName, "store": s.name}),
		ctx:             ctx,
		cancel:          cancel,
		locks:           pathlock.New(),
		maxRequestBytes: validate.DefaultMaxRequestBytes,
		statusErrs:      make(chan error),
	}
	c.leases = newLeaseManager(s, extra.EffectiveLeaseTTL(), c.log.WithField("leases", "data"),
		c.leaseLost(func() *leaseManager { return c.leases }), c.observers.Notify)
	c.lockLeases = newLeaseManager(s, extra.EffectiveLockLeaseTTL(), c.log.WithField("leases", "lock"),
		c.leaseLost(func() *leaseManager { return c.lockLeases }), nil)
	// The connection session, as the etcd backend establishes it: one lock
	// lease from the start, whose loss closes Disconnected.
	if _, err := c.lockLeases.GetLeaseID(kvstore.InitLockPath); err != nil {
		c.log.WithError(err).Error("Unable to establish the session")
	}
	return c
}

// leaseLost returns the callback the store calls when one of m's leases is
// revoked: the manager expires it on a background goroutine, as the etcd
// backend learns of it from its keepalive goroutine.
func (c *client) leaseLost(m func() *leaseManager) func(int64) {
	return func(id int64) {
		c.goBackground(func() { m().expire(id) })
	}
}

// goBackground runs f on a goroutine that Close waits for, unless the client
// is closed already.
func (c *client) goBackground(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// Close implements kvstore.BackendOperations.
func (c *client) Close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.cancel()
		c.wg.Wait()
		c.leases.close(false)
		c.lockLeases.close(true)
		c.locks.Close()
		close(c.statusErrs)
	})
}

// begin is the entry of every operation: it fails once the client is closed
// or ctx has ended, as an etcd request would.
func (c *client) begin(ctx context.Context) error {
	if c.ctx.Err() != nil {
		return kvstore.ErrClientClosed
	}
	if err := ctx.Err(); err != nil {
		return kvstore.Hint(err)
	}
	return nil
}

// wrapOp words errors like the etcd backend does.
func wrapOp(op, key string, err error) error { return operr.Wrap(op, key, err) }
