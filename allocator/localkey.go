package allocator

import (
	"context"
	"time"
)

// localKey is this node's use of one key. Its lock serialises the calls for
// the key; users counts callers holding or waiting for the entry, so that it
// is dropped only when nobody needs it.
//
// The lock is a one-slot channel rather than a sync.Mutex so that a caller
// waiting for it can give up when its ctx ends: the holder may be waiting
// for the store (a sync during a leader election), and Allocate and Release
// must return by their caller's deadline all the same.
type localKey struct {
	sem  chan struct{}
	id   ID  // guarded by the lock
	refs int // guarded by the lock
	// created is when this node created id (its master key) for the key,
	// zero if it referenced an existing one; guarded by the lock.
	created time.Time
	users   int // guarded by Allocator.mu
}

func newLocalKey() *localKey { return &localKey{sem: make(chan struct{}, 1)} }

// lock takes the entry's lock, or returns ctx's error if ctx ends first.
// A ctx already done never takes it, even when the lock is free: a call
// with a done ctx changes nothing (a select between a free slot and a done
// ctx would pick one at random).
func (lk *localKey) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case lk.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tryLock takes the lock if it is free.
func (lk *localKey) tryLock() bool {
	select {
	case lk.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (lk *localKey) unlock() { <-lk.sem }

// abandon drops the use of key's entry by a caller that gave up waiting for
// its lock, and the entry if nobody else uses it and it holds no reference.
// Every holder of the lock is counted in users (localID too), so with no
// user left the lock is free and refs can be read.
func (a *Allocator) abandon(key string, lk *localKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	lk.users--
	if lk.users == 0 && lk.tryLock() {
		refs := lk.refs
		lk.unlock()
		if refs == 0 && a.local[key] == lk {
			delete(a.local, key)
		}
	}
}
