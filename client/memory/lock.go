package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/pathlock"
	"github.com/hivekv/kvstore/client/internal/validate"
)

// Locks work like the etcd backend's: a process-local lock in the client's
// pathlock table, then a store-level lock in the style of etcd's
// concurrency.Mutex. The owner key path/<lock lease id hex> is an ordinary
// key attached to the client's lock lease, visible to ListPrefix and
// watchers; contenders queue by the create revision of their keys, and each
// waits for the deletion of the key just ahead of it (no polling).

// errLockKeyGone reports that the lock's own key vanished while waiting:
// its lease was revoked or expired.
var errLockKeyGone = errors.New("lock key deleted while waiting: the lock lease expired")

// LockPath implements kvstore.BackendOperations.
func (c *client) LockPath(ctx context.Context, path string) (kvstore.KVLocker, error) {
	if err := validate.LockPath(path); err != nil {
		return nil, wrapOp("lock", path, err)
	}
	if err := c.begin(ctx); err != nil {
		return nil, wrapOp("lock", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, kvstore.DefaultLockTimeout)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel) // Close interrupts the wait
	defer stop()

	owner, err := c.locks.Lock(ctx, path)
	if err != nil {
		return nil, wrapOp("lock", path, c.lockWaitErr(err))
	}
	l, err := c.lockInStore(ctx, path)
	if err != nil {
		c.locks.Unlock(path, owner)
		return nil, wrapOp("lock", path, c.lockWaitErr(err))
	}
	l.owner = owner
	return l, nil
}

// lockWaitErr says that Close, not the caller, ended a wait.
func (c *client) lockWaitErr(err error) error {
	if c.ctx.Err() != nil {
		return fmt.Errorf("%w: %v", kvstore.ErrClientClosed, err)
	}
	return err
}

// lockInStore creates the owner key and waits for its turn. On failure it
// leaves no key behind.
func (c *client) lockInStore(ctx context.Context, path string) (*locker, error) {
	for attempt := 0; ; attempt++ {
		id, err := c.lockLeases.GetLeaseID(path)
		if err != nil {
			return nil, err
		}
		key := path + "/" + leaseHex(id)
		rev, err := c.store.createLockKey(key, id)
		if err != nil {
			if attempt == 0 && c.lockLeases.CancelIfExpired(err, id) {
				continue
			}
			c.lockLeases.Release(path)
			return nil, err
		}
		if err := c.store.waitLockTurn(ctx, path+"/", key, rev); err != nil {
			c.store.mu.Lock()
			c.store.deleteLocked([]string{key})
			c.store.mu.Unlock()
			c.lockLeases.Release(path)
			return nil, err
		}
		return &locker{c: c, path: path, fence: fence{store: c.store, key: key, rev: rev}}, nil
	}
}

// createLockKey creates key on lease unless it exists, and returns the
// create revision of the key: an existing key of the same lease is the same
// session's and is taken over, as etcd's mutex does.
func (s *Store) createLockKey(key string, lease int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.kvs[key]; ok {
		return e.create, nil
	}
	if err := s.putLocked(key, nil, lease); err != nil {
		return 0, err
	}
	return s.kvs[key].create, nil
}

// waitLockTurn waits until no owner key of the queue prefix (see
// pathlock.InQueue) was created before myRev,
// waking when the key just ahead is deleted, or when our own key is (its
// lease was revoked: waiting longer is pointless).
func (s *Store) waitLockTurn(ctx context.Context, prefix, myKey string, myRev int64) error {
	for {
		ahead, mine, err := s.lockPredecessor(prefix, myKey, myRev)
		if err != nil || ahead == nil {
			return err
		}
		select {
		case <-ahead:
		case <-mine:
		case <-ctx.Done():
			return kvstore.Hint(ctx.Err())
		}
	}
}

// lockPredecessor returns the deletion channels of the youngest key under
// prefix created before myRev and of our own key; ahead is nil when no key
// is ahead: the lock is ours.
func (s *Store) lockPredecessor(prefix, myKey string, myRev int64) (ahead, mine <-chan struct{}, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	own, ok := s.kvs[myKey]
	if !ok || own.create != myRev {
		return nil, nil, errLockKeyGone
	}
	var prev *entry
	for k, e := range s.kvs {
		if e.create < myRev && pathlock.InQueue(prefix, k) && (prev == nil || e.create > prev.create) {
			prev = e
		}
	}
	if prev == nil {
		return nil, nil, nil
	}
	return prev.goneChan(), own.goneChan(), nil
}

// goneChan returns the channel closed when e is deleted. Store.mu must be
// held.
func (e *entry) goneChan() <-chan struct{} {
	if e.gone == nil {
		e.gone = make(chan struct{})
	}
	return e.gone
}

// fence is the Comparator of a memory lock: the lock is held while its key
// exists with the create revision it was taken with.
type fence struct {
	store *Store
	key   string
	rev   int64
}

// heldLocked reports whether the lock is still held.
func (f fence) heldLocked() bool {
	e, ok := f.store.kvs[f.key]
	return ok && e.create == f.rev
}

// locker is a held lock.
type locker struct {
	c     *client
	path  string
	fence fence
	owner pathlock.Owner

	once sync.Once
}

// Unlock implements kvstore.KVLocker: it deletes the owner key (waking the
// next contender) and always releases the local lock. Only the first call
// does anything.
func (l *locker) Unlock(ctx context.Context) error {
	var err error
	l.once.Do(func() {
		defer l.c.locks.Unlock(l.path, l.owner)
		l.c.lockLeases.Release(l.path)
		if err = l.c.begin(ctx); err != nil {
			// The key goes with the lock lease, as on etcd when the
			// delete cannot be sent.
			err = wrapOp("unlock", l.path, err)
			return
		}
		s := l.fence.store
		s.mu.Lock()
		s.deleteLocked([]string{l.fence.key})
		s.mu.Unlock()
	})
	return err
}

// Comparator implements kvstore.KVLocker.
func (l *locker) Comparator() any { return l.fence }
