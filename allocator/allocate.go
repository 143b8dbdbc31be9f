package allocator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"slices"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/backoff"
)

const (
	// maxAllocAttempts bounds the attempts of one Allocate (each a
	// one-round-trip try or a lock protocol run), as Cilium v1.16 does.
	maxAllocAttempts = 16
	// maxFastSteps bounds the transactions of one one-round-trip attempt
	// before it gives way to the lock protocol.
	maxFastSteps = 4
	// retryBackoff is the first pause between failed attempts; it doubles,
	// and each pause is jittered (internal/backoff).
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
//
// The first Allocate waits for the initial list of master keys (see
// WaitForInitialSync), so that it does not pick IDs the cache does not
// know yet. Errors that cannot succeed when retried (refused before
// sending, a closed client or Allocator, an exhausted range) return at
// once; others are retried with a jittered backoff until ctx ends or
// maxAllocAttempts. A ctx that is already done changes nothing.
func (a *Allocator) Allocate(ctx context.Context, key string) (id ID, isNew, firstUse bool, err error) {
	if err := a.check(key); err != nil {
		return NoID, false, false, err
	}
	ctx, leave, err := a.enter(ctx)
	if err != nil {
		return NoID, false, false, err
	}
	defer leave()
	if err := a.waitSynced(ctx); err != nil {
		return NoID, false, false, a.closedErr(fmt.Errorf("allocate %q: waiting for the initial list of IDs: %w", key, err))
	}
	lk := a.acquire(key)
	if err := lk.lock(ctx); err != nil {
		a.abandon(key, lk)
		return NoID, false, false, a.closedErr(fmt.Errorf("waiting for another call on %q: %w", key, err))
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
		if !errors.Is(err, ErrRangeExhausted) && !errors.Is(err, ErrClosed) && !kvstore.RefusedBeforeSending(err) {
			// A write with a lost reply may have left this node's slave
			// key behind: the periodic sync deletes it unless the key is
			// allocated again.
			a.mu.Lock()
			a.unreleased[key] = NoID
			a.mu.Unlock()
		}
		return NoID, false, false, a.closedErr(err)
	}
	a.opts.metrics.allocated(isNew, time.Since(start).Seconds())
	lk.id, lk.refs, lk.created = id, 1, time.Time{}
	if isNew {
		lk.created = time.Now()
	}
	a.mu.Lock()
	delete(a.unreleased, key)
	delete(a.released, key)
	a.mu.Unlock()
	return id, isNew, true, nil
}

// waitSynced waits for the cache's first list, at once after it.
func (a *Allocator) waitSynced(ctx context.Context) error {
	select {
	case <-a.cache.synced:
		return nil
	default:
	}
	select {
	case <-a.cache.synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release drops a reference to key; the last one (lastUse) deletes this
// node's slave key. The ID stays allocated until GC finds no node using
// it. A key not held here gives ErrNotAllocated. If the delete fails the
// reference is still dropped and the error returned; the periodic sync
// deletes the slave key later.
//
// A key this Allocator created less than the release delay ago (see
// WithReleaseDelay) keeps its slave key until then: Release returns at
// once, and the slave key is deleted in the background unless the key is
// allocated again meanwhile (or the Allocator closed: then it goes with
// the client's lease, as every slave key does at Close).
//
// With a ctx that is already done, Release returns ctx's error and
// changes nothing: the reference is kept.
func (a *Allocator) Release(ctx context.Context, key string) (lastUse bool, err error) {
	if err := a.check(key); err != nil {
		return false, err
	}
	ctx, leave, err := a.enter(ctx)
	if err != nil {
		return false, err
	}
	defer leave()
	lk := a.acquire(key)
	if err := lk.lock(ctx); err != nil {
		a.abandon(key, lk)
		return false, a.closedErr(fmt.Errorf("waiting for another call on %q: %w", key, err))
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
	id, created := lk.id, lk.created
	lk.id, lk.created = NoID, time.Time{}
	a.mu.Lock()
	a.released[key] = id
	a.mu.Unlock()
	if d := a.opts.releaseDelay; d > 0 && !created.IsZero() {
		if wait := d - time.Since(created); wait > 0 {
			a.releaseLater(key, id, wait)
			return true, nil
		}
	}
	if err := a.backend.Release(ctx, id, key); err != nil {
		a.mu.Lock()
		a.unreleased[key] = id
		a.mu.Unlock()
		return true, a.closedErr(fmt.Errorf("release %q (ID %d): %w", key, id, err))
	}
	return true, nil
}

// releaseLater deletes this node's slave key of key after wait, unless the
// key is allocated again meanwhile; a failed delete is left to the
// periodic sync, as a failed Release is. (The sync does not re-create the
// keys of a released key meanwhile: it holds no reference.)
func (a *Allocator) releaseLater(key string, id ID, wait time.Duration) {
	a.goBackground(func() {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
		a.retryRelease(a.ctx, key, id)
	})
}

// allocate reaches the store for key: one-round-trip attempts while they
// can succeed, else the lock protocol, retried with backoff on transient
// errors only.
func (a *Allocator) allocate(ctx context.Context, key string) (ID, bool, error) {
	retry := backoff.Backoff{Min: retryBackoff, Max: maxRetryBackoff}
	useLock := a.txn == nil
	var lastErr error
	for attempt := 0; attempt < maxAllocAttempts; attempt++ {
		if a.closed.Load() {
			return NoID, false, ErrClosed
		}
		var id, hint ID
		var isNew bool
		var err error
		if !useLock {
			id, isNew, hint, err = a.allocateTxn(ctx, key)
			if errors.Is(err, errUseLock) || kvstore.RefusedBeforeSending(err) {
				// A conflict only the lock protocol can decide, or a
				// transaction the store refuses as it is (too large, say):
				// the lock protocol's requests are smaller, and from now on
				// this call takes it.
				if !errors.Is(err, errUseLock) {
					a.log.WithError(err).WithField("key", key).Debug("One-transaction allocation refused, using the lock protocol")
				}
				useLock = true
				a.opts.metrics.fallback()
				id, isNew, err = a.allocateLocked(ctx, key, hint)
			}
		} else {
			id, isNew, err = a.allocateLocked(ctx, key, NoID)
		}
		if err == nil {
			return id, isNew, nil
		}
		switch {
		case errors.Is(err, ErrRangeExhausted), errors.Is(err, ErrClosed), ctx.Err() != nil:
			return NoID, false, err
		case errors.Is(err, kvstore.ErrClientClosed):
			return NoID, false, fmt.Errorf("allocate %q: %w", key, err)
		case kvstore.RefusedBeforeSending(err):
			return NoID, false, fmt.Errorf("allocate %q: refused by the store, not retried: %w", key, err)
		}
		lastErr = err
		a.log.WithError(err).WithFields(logrus.Fields{"key": key, "attempt": attempt + 1}).Debug("Allocation attempt failed, retrying")
		t := time.NewTimer(retry.Next())
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return NoID, false, fmt.Errorf("allocate %q: %w (last error: %w)", key, ctx.Err(), lastErr)
		}
	}
	return NoID, false, fmt.Errorf("allocate %q: giving up after %d attempts: %w", key, maxAllocAttempts, lastErr)
}

// allocateTxn tries the one-round-trip path: a reference to the ID the
// cache knows for key, else a new ID. It returns errUseLock when only the
// lock protocol can decide, with hint, when it is not NoID, an ID whose
// master key it found naming key (for the lock protocol to check).
func (a *Allocator) allocateTxn(ctx context.Context, key string) (id ID, isNew bool, hint ID, err error) {
	known, unique := a.cache.id(key)
	if known != NoID && !unique {
		// Two master keys name the key (one is left over from a node that
		// died, or from an allocation racing Cilium's protocol):
		// the lock protocol reads which one the slave keys use.
		a.opts.metrics.conflict("unclear")
		return NoID, false, NoID, errUseLock
	}
	for step := 0; step < maxFastSteps; step++ {
		if known != NoID {
			c, err := a.txn.tryReference(ctx, known, key)
			if err != nil {
				return NoID, false, NoID, err // idempotent: the retry writes the same
			}
			if c == nil {
				return known, false, NoID, nil
			}
			// The lock is held, or the ID was freed or given to another
			// key meanwhile, or no slave key names it: the lock protocol
			// reads what holds now.
			a.opts.metrics.conflict("reference")
			return NoID, false, known, errUseLock
		}
		id, err := a.pool.reserve(a.cache)
		if err != nil {
			return NoID, false, NoID, err
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
				return NoID, false, NoID, fmt.Errorf("create ID %d for %q: %w (re-read: %v)", id, key, err, rerr)
			}
			if applied {
				return id, true, NoID, nil
			}
			return NoID, false, NoID, fmt.Errorf("create ID %d for %q: %w", id, key, err)
		}
		a.pool.unreserve(id)
		if err != nil {
			return NoID, false, NoID, err
		}
		if c == nil {
			return id, true, NoID, nil
		}
		switch {
		case c.locked:
			a.opts.metrics.conflict("locked")
			return NoID, false, NoID, errUseLock
		case c.slavesUnclear:
			a.opts.metrics.conflict("unclear")
			return NoID, false, NoID, errUseLock
		case c.existing != NoID:
			// Another node gave key an ID meanwhile: reference it.
			a.opts.metrics.conflict("has_id")
			known = c.existing
		case c.taken:
			a.opts.metrics.conflict("id_taken")
			if c.owner == key {
				// A master key for key without slave keys: reuse it.
				known = id
			} else {
				// Another key's, or a value that names no key (empty):
				// either way the ID is not free.
				a.pool.markTaken(id)
			}
		default:
			return NoID, false, NoID, fmt.Errorf("allocator: create of ID %d for %q did not apply and the store says no reason", id, key)
		}
	}
	return NoID, false, known, errUseLock
}

// allocateLocked is Cilium v1.16's lock protocol: lock key, read its
// slave keys, reference the ID they name (once its master key is checked),
// else the key's own unused master key, else create a new master key; then
// write this node's slave key, all fenced on the lock. hint is an ID whose
// master key was seen naming key (checked again here).
func (a *Allocator) allocateLocked(ctx context.Context, key string, hint ID) (ID, bool, error) {
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
	noSlaves := id == NoID
	if id != NoID {
		if id, err = a.checkSlaveID(ctx, key, id, lock); err != nil {
			return NoID, false, err
		}
	}
	if id == NoID {
		if id, err = a.orphanID(ctx, key, hint, lock, noSlaves); err != nil {
			return NoID, false, err
		}
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
			// The cache is behind. Under key's lock the store decides: a
			// master key naming key is its own (released here or by a
			// node that died) and is reused; any other is taken.
			owner, gerr := a.backend.GetByID(ctx, id)
			if gerr != nil {
				return NoID, false, fmt.Errorf("read master key of ID %d: %w", id, gerr)
			}
			if owner == key {
				if err := a.backend.AcquireReference(ctx, id, key, lock); err != nil {
					return NoID, false, err
				}
				return id, false, nil
			}
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

// checkSlaveID checks, under key's lock, the master key of the ID that
// key's slave keys name before this node adopts it: if it names key, id is
// returned; if it is missing, it is re-created for key (as Cilium's
// master-key protection does: the slave keys say the ID is in use); if it
// names another key (or nothing), the slave key is stale and NoID is
// returned: key gets another ID.
func (a *Allocator) checkSlaveID(ctx context.Context, key string, id ID, lock kvstore.KVLocker) (ID, error) {
	owner, err := a.backend.GetByID(ctx, id)
	if err != nil {
		return NoID, fmt.Errorf("read master key of ID %d: %w", id, err)
	}
	if owner == key {
		return id, nil
	}
	if owner == "" {
		err := a.backend.AllocateIDIfLocked(ctx, id, key, lock)
		if err == nil {
			a.log.WithFields(logrus.Fields{"key": key, "id": id}).Warning("Re-created the missing master key of an ID in use")
			return id, nil
		}
		if !errors.Is(err, ErrMasterKeyExists) {
			return NoID, fmt.Errorf("re-create master key of ID %d for %q: %w", id, key, err)
		}
		// Another key took the ID meanwhile (or the master key holds an
		// empty value): not ours.
	}
	a.log.WithFields(logrus.Fields{"key": key, "id": id, "owner": owner}).Warning("A slave key names an ID whose master key is another key's: not adopting it")
	return NoID, nil
}

// orphanID returns the ID of a master key naming key that no node uses,
// checked in the store: under key's lock GC cannot free it meanwhile.
// Candidates are the cache's IDs of key, the ID this node released last
// and hint. Reusing one keeps a key from piling up master keys when it is
// released and allocated again faster than GC runs, and makes the choice
// deterministic: the smallest candidate naming key. When key has no slave
// key at all (noSlaves), the others naming key are extra master keys no
// node uses: they are deleted (as GC would under this lock), so that a
// reader whose cache offers one of them cannot diverge from this choice
// for long.
func (a *Allocator) orphanID(ctx context.Context, key string, hint ID, lock kvstore.KVLocker, noSlaves bool) (ID, error) {
	cands := a.cache.ids(key)
	a.mu.Lock()
	if id, ok := a.released[key]; ok {
		cands = append(cands, id)
	}
	a.mu.Unlock()
	if hint != NoID {
		cands = append(cands, hint)
	}
	slices.Sort(cands)
	cands = slices.Compact(cands)
	var own []ID
	for _, id := range cands {
		k, err := a.backend.GetByID(ctx, id)
		if err != nil {
			return NoID, fmt.Errorf("read master key of ID %d: %w", id, err)
		}
		if k == key {
			own = append(own, id)
		}
	}
	if len(own) == 0 {
		return NoID, nil
	}
	if d, ok := a.backend.(IDDeleter); ok && noSlaves {
		for _, extra := range own[1:] {
			if err := d.DeleteIDIfLocked(ctx, extra, key, lock); err != nil {
				a.log.WithError(err).WithFields(logrus.Fields{"key": key, "id": extra}).Warning("Unable to delete an extra unused master key; GC will")
			}
		}
	}
	return own[0], nil
}

// graceContext is the ctx of the read-back after a create with a lost
// reply, and of the unlock after the lock protocol: it survives the
// caller's ctx (the answer decides what the call returns; a lock left
// behind blocks the key until its lease ends), but only by rereadGrace
// past its deadline, and at most rereadTimeout.
func graceContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := rereadTimeout
	if deadline, ok := ctx.Deadline(); ok {
		d = min(d, max(time.Until(deadline), 0)+rereadGrace)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}
