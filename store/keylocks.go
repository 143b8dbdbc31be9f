package store

import (
	"context"
	"sync"
)

// keyLocks serialises work per key name, waiting with a ctx. An entry lives
// only while the name is held or awaited, so the map does not grow with the
// names ever seen.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	// slot holds a token while the name is held: a channel, so that a
	// waiter can give up when its ctx ends.
	slot chan struct{}
	refs int // holder and waiters
	// held numbers the holds; forgot is the hold during which forget was
	// called (0: none).
	held, forgot uint64
}

// heldKey is one hold of a name, returned by lock.
type heldKey struct {
	name string
	kl   *keyLock
	n    uint64
	ls   *keyLocks
}

// lock waits until name is free, or ctx ends (its error is returned).
func (ls *keyLocks) lock(ctx context.Context, name string) (*heldKey, error) {
	ls.mu.Lock()
	if ls.m == nil {
		ls.m = map[string]*keyLock{}
	}
	kl := ls.m[name]
	if kl == nil {
		kl = &keyLock{slot: make(chan struct{}, 1)}
		ls.m[name] = kl
	}
	kl.refs++
	ls.mu.Unlock()
	select {
	case kl.slot <- struct{}{}:
	case <-ctx.Done():
		ls.release(name, kl)
		return nil, ctx.Err()
	}
	ls.mu.Lock()
	kl.held++
	h := &heldKey{name: name, kl: kl, n: kl.held, ls: ls}
	ls.mu.Unlock()
	return h, nil
}

// unlock ends the hold h.
func (ls *keyLocks) unlock(h *heldKey) {
	<-h.kl.slot
	ls.release(h.name, h.kl)
}

func (ls *keyLocks) release(name string, kl *keyLock) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	kl.refs--
	if kl.refs == 0 {
		delete(ls.m, name)
	}
}

// forget marks the current hold of name, if any, as overtaken: its holder
// must not remember what it wrote (see forgotten).
func (ls *keyLocks) forget(name string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if kl := ls.m[name]; kl != nil {
		kl.forgot = kl.held
	}
}

// forgotten reports whether forget was called during this hold.
func (h *heldKey) forgotten() bool {
	h.ls.mu.Lock()
	defer h.ls.mu.Unlock()
	return h.kl.forgot == h.n
}
