package allocator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/backoff"
)

const (
	// maxAllocAttempts bounds the attempts of one Allocate (each a
	// one-round-trip try or a lock protocol run), as the reference does.
	maxAllocAttempts = 16
	// maxFastSteps bounds the transactions of one one-round-trip attempt
	// before it gives way to the lock protocol.
	maxFastSteps = 4
	// retryBackoff is the first pause between failed attempts; it doubles,
	// jittered (internal/backoff).
	retryBackoff = 10 * time.Millisecond
	// maxRetryBackoff caps the pause.
	maxRetryBackoff = 2 * time.Second
	// rereadTimeout bounds the read-back after a create with a lost reply.
	rereadTimeout = 10 * time.Second
	// rereadGrace is how long the read-back may outlive the caller's
	// deadline: long enough for a reply that is on its way, short enough
	// that the caller's timeout still means something. If the read-back
	// fails too, the call returns the error, and the periodic sync deletes
	// the slave key the create may have left (see Allocate).
	rereadGrace = 500 * time.Millisecond
)

// errUseLock tells Allocate to take the lock protocol.
var errUseLock = errors.New("allocator: conflict, use the lock protocol")

// Allocate returns the ID of key, allocating one if the key has none.
// isNew reports that this call created the ID (its master key); firstUse
// that this is the first reference to key on this Allocator. Later calls
// for a key held here only count a reference and touch no store. On error
// the key holds no reference here; an error after a write whose reply was
// lost is re-read first, so a retried Allocate finds what it wrote.
func (a *Allocator) Allocate(ctx context.Context, key string) (id ID, isNew, firstUse bool, err error) {
	if err := a.check(key); err != nil {
		return NoID, false, false, err
	}
	lk := a.acquire(key)
	if err := lk.lock(ctx); err != nil {
		a.abandon(key, lk)
		return NoID, false, false, fmt.Errorf("waiting for another call on %q: %w", key, err)
	}
	defer func() {
		refs := lk.refs
		lk.unlock()
		a.done(key, lk, refs)
	}()
	if lk.refs > 0 {
		lk.refs++
		return lk.id, false, false, nil
	}
	start := time.Now()
	id, isNew, err = a.allocate(ctx, key)
	if err != nil {
		if !errors.Is(err, ErrRangeExhausted) && !errors.Is(err, ErrClosed) {
			// A write with a lost reply may have left this node's slave
			// key behind: the periodic sync deletes it unless the key is
			// allocated again.
			a.mu.Lock()
			a.unreleased[key] = NoID
			a.mu.Unlock()
		}
		return NoID, false, false, err
	}
	a.opts.metrics.allocated(isNew, time.Since(start).Seconds())
	lk.id, lk.refs = id, 1
	a.mu.Lock()
	delete(a.unreleased, key)
	a.mu.Unlock()
	return id, isNew, true, nil
}

// Release drops a reference to key; the last one (lastUse) deletes this
// node's slave key. The ID stays allocated until GC finds no node using
// it. A key not held here gives ErrNotAllocated. If the delete fails the
// reference is still dropped and the error returned; the periodic sync
// deletes the slave key later.
func (a *Allocator) Release(ctx context.Context, key string) (lastUse bool, err error) {
	if err := a.check(key); err != nil {
		return false, err
	}
	lk := a.acquire(key)
	if err := lk.lock(ctx); err != nil {
		a.abandon(key, lk)
		return false, fmt.Errorf("waiting for another call on %q: %w", key, err)
	}
	defer func() {
		refs := lk.refs
		lk.unlock()
		a.done(key, lk, refs)
	}()
	if lk.refs == 0 {
		return false, fmt.Errorf("%w: %q", ErrNotAllocated, key)
	}
	lk.refs--
	if lk.refs > 0 {
		return false, nil
	}
	id := lk.id
	lk.id = NoID
	if err := a.backend.Release(ctx, id, key); err != nil {
		a.mu.Lock()
		a.unreleased[key] = id
		a.mu.Unlock()
		return true, fmt.Errorf("release %q (ID %d): %w", key, id, err)
	}
	return true, nil
}

// allocate reaches the store for key: one-round-trip attempts while they
// can succeed, else the lock protocol, retried with backoff on errors.
func (a *Allocator) allocate(ctx context.Context, key string) (ID, bool, error) {
	retry := backoff.Backoff{Min: retryBackoff, Max: maxRetryBackoff}
	useLock := a.txn == nil
	var lastErr error
	for attempt := 0; attempt < maxAllocAttempts; attempt++ {
		if a.closed.Load() {
			return NoID, false, ErrClosed
		}
		var id ID
		var isNew bool
		var err error
		if !useLock {
			id, isNew, err = a.allocateTxn(ctx, key)
			if errors.Is(err, errUseLock) {
				useLock = true
				a.opts.metrics.fallback()
				id, isNew, err = a.allocateLocked(ctx, key)
			}
		} else {
			id, isNew, err = a.allocateLocked(ctx, key)
		}
		if err == nil {
			return id, isNew, nil
		}
		if errors.Is(err, ErrRangeExhausted) || ctx.Err() != nil {
			return NoID, false, err
		}
		lastErr = err
		a.log.WithError(err).WithFields(logrus.Fields{"key": key, "attempt": attempt + 1}).Debug("Allocation attempt failed, retrying")
		select {
		case <-time.After(retry.Next()):
		case <-ctx.Done():
			return NoID, false, fmt.Errorf("allocate %q: %w (last error: %w)", key, ctx.Err(), lastErr)
		case <-a.ctx.Done():
			return NoID, false, ErrClosed
		}
	}
	return NoID, false, fmt.Errorf("allocate %q: giving up after %d attempts: %w", key, maxAllocAttempts, lastErr)
}

// allocateTxn tries the one-round-trip path: a reference to the ID the
// cache knows for key, else a new ID. It returns errUseLock when only the
// lock protocol can decide.
func (a *Allocator) allocateTxn(ctx context.Context, key string) (ID, bool, error) {
	known, unique := a.cache.id(key)
	if known != NoID && !unique {
		// Two master keys name the key (one is left over from a node that
		// died, or from an allocation racing the reference's protocol):
		// the lock protocol reads which one the slave keys use.
		a.opts.metrics.conflict("unclear")
		return NoID, false, errUseLock
	}
	for step := 0; step < maxFastSteps; step++ {
		if known != NoID {
			c, err := a.txn.tryReference(ctx, known, key)
			if err != nil {
				return NoID, false, err // idempotent: the retry writes the same
			}
			if c == nil {
				return known, false, nil
			}
			// The lock is held, or the ID was freed or given to another
			// key meanwhile: the lock protocol reads what holds now.
			a.opts.metrics.conflict("reference")
			return NoID, false, errUseLock
		}
		id, err := a.pool.reserve(a.cache)
		if err != nil {
			return NoID, false, err
		}
		c, err := a.txn.tryCreate(ctx, id, key)
		if err != nil && !kvstore.RefusedBeforeSending(err) {
			// Unknown outcome: read back before trying anything else, so
			// that a create that happened is not made twice. The read
			// outlives the caller's ctx: its answer is needed either way.
			rctx, cancel := graceContext(ctx)
			applied, rerr := a.txn.createApplied(rctx, id, key)
			cancel()
			a.pool.unreserve(id)
			if rerr != nil {
				return NoID, false, fmt.Errorf("create ID %d for %q: %w (re-read: %v)", id, key, err, rerr)
			}
			if applied {
				return id, true, nil
			}
			return NoID, false, fmt.Errorf("create ID %d for %q: %w", id, key, err)
		}
		a.pool.unreserve(id)
		if err != nil {
			return NoID, false, err
		}
		if c == nil {
			return id, true, nil
		}
		switch {
		case c.locked:
			a.opts.metrics.conflict("locked")
			return NoID, false, errUseLock
		case c.slavesUnclear:
			a.opts.metrics.conflict("unclear")
			return NoID, false, errUseLock
		case c.existing != NoID:
			// Another node gave key an ID meanwhile: reference it.
			a.opts.metrics.conflict("has_id")
			known = c.existing
		case c.owner != "":
			a.opts.metrics.conflict("id_taken")
			if c.owner == key {
				// A master key for key without slave keys: reuse it.
				known = id
			} else {
				a.pool.markTaken(id)
			}
		default:
			return NoID, false, fmt.Errorf("allocator: create of ID %d for %q did not apply and the store says no reason", id, key)
		}
	}
	return NoID, false, errUseLock
}

// allocateLocked is the reference's lock protocol: lock key, read its
// slave keys, reference the ID they name, else create a new master key;
// then write this node's slave key, all fenced on the lock.
func (a *Allocator) allocateLocked(ctx context.Context, key string) (ID, bool, error) {
	lock, err := a.backend.Lock(ctx, key)
	if err != nil {
		return NoID, false, fmt.Errorf("lock %q: %w", key, err)
	}
	defer func() {
		uctx, cancel := graceContext(ctx)
		err := lock.Unlock(uctx)
		cancel()
		if err != nil {
			a.log.WithError(err).WithField("key", key).Warning("Unable to release allocator lock")
		}
	}()
	id, err := a.backend.GetIfLocked(ctx, key, lock)
	if err != nil {
		return NoID, false, fmt.Errorf("read slave keys of %q: %w", key, err)
	}
	if id == NoID {
		id = a.orphanID(ctx, key)
	}
	if id != NoID {
		if err := a.backend.AcquireReference(ctx, id, key, lock); err != nil {
			return NoID, false, err
		}
		return id, false, nil
	}
	for {
		id, err = a.pool.reserve(a.cache)
		if err != nil {
			return NoID, false, err
		}
		err = a.backend.AllocateIDIfLocked(ctx, id, key, lock)
		a.pool.unreserve(id)
		if errors.Is(err, ErrMasterKeyExists) {
			// The cache is behind: try another ID while holding the lock.
			a.pool.markTaken(id)
			continue
		}
		if err != nil {
			// Unknown outcome: a lost reply may hide a master key we
			// made; the next attempt reads it back as an orphan.
			return NoID, false, fmt.Errorf("unable to allocate ID %d for key %s: %w", id, key, err)
		}
		break
	}
	if err := a.backend.AcquireReference(ctx, id, key, lock); err != nil {
		// The master key stays without a slave key: GC frees it, or the
		// next attempt reuses it as an orphan.
		return NoID, false, fmt.Errorf("secondary key creation failed '%s': %w", key, err)
	}
	return id, true, nil
}

// orphanID returns the ID of a master key naming key that no node uses
// (the smallest, if several do), after checking the store: under key's
// lock GC cannot free it meanwhile. Reusing it keeps a key from piling up
// master keys when it is released and allocated again faster than GC runs.
func (a *Allocator) orphanID(ctx context.Context, key string) ID {
	for _, id := range a.cache.ids(key) {
		k, err := a.backend.GetByID(ctx, id)
		if err == nil && k == key {
			return id
		}
	}
	return NoID
}

// rereadContext is the ctx of the read-back after a create with a lost
// reply: it survives the caller's ctx (the answer decides what the call
// returns), but only by rereadGrace past its deadline.
func graceContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := rereadTimeout
	if deadline, ok := ctx.Deadline(); ok {
		d = min(d, max(time.Until(deadline), 0)+rereadGrace)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}
