package allocator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore"
)

// expiryNotifier is implemented by the kvstore backend: it reports this
// node's slave keys lost with their lease.
type expiryNotifier interface {
	onSlaveKeyExpired(fn func(key string)) (stop func())
}

// onSlaveKeyExpired registers fn for this node's slave keys whose lease
// expired, until stop is called. The registration is this allocator's own
// (ObserveLeaseExpired): another allocator on the same client and prefix
// keeps its own when this one stops.
func (k *kvstoreBackend) onSlaveKeyExpired(fn func(key string)) (stop func()) {
	suffix := "/" + k.node
	return k.b.ObserveLeaseExpired(k.keys.valuePrefix, func(full string) {
		rest := full[len(k.keys.valuePrefix):]
		if len(rest) <= len(suffix) || rest[len(rest)-len(suffix):] != suffix {
			return
		}
		fn(rest[:len(rest)-len(suffix)])
	})
}

// startSync starts the periodic re-creation of this node's keys and the
// re-creation of slave keys lost with their lease. Lost keys are queued
// (each once) and re-created by one worker in batches: a lost lease with
// thousands of slave keys costs a few transactions, not a goroutine and a
// request per key.
func (a *Allocator) startSync() {
	if n, ok := a.backend.(expiryNotifier); ok {
		stop := n.onSlaveKeyExpired(func(key string) {
			a.mu.Lock()
			a.pendingExpired[key] = struct{}{}
			a.mu.Unlock()
			select {
			case a.expiredWake <- struct{}{}:
			default: // the worker is already due to run
			}
		})
		a.goBackground(func() {
			defer stop()
			for {
				select {
				case <-a.ctx.Done():
					return
				case <-a.expiredWake:
				}
				a.mu.Lock()
				keys := slices.Sorted(maps.Keys(a.pendingExpired))
				clear(a.pendingExpired)
				a.mu.Unlock()
				done := a.opts.health.recreate(len(keys))
				done(a.syncKeys(a.ctx, keys, true))
			}
		})
	}
	if a.opts.syncInterval <= 0 {
		return
	}
	a.goBackground(func() {
		t := time.NewTicker(a.opts.syncInterval)
		defer t.Stop()
		for {
			select {
			case <-a.ctx.Done():
				return
			case <-t.C:
				a.syncLocalKeys(a.ctx)
			}
		}
	})
}

// syncLocalKeys re-creates missing master and slave keys of every key
// this node holds, and deletes the slave keys failed releases left behind.
func (a *Allocator) syncLocalKeys(ctx context.Context) {
	a.mu.Lock()
	keys := make([]string, 0, len(a.local))
	for k := range a.local {
		keys = append(keys, k)
	}
	unreleased := maps.Clone(a.unreleased)
	a.mu.Unlock()
	for k, id := range unreleased {
		if ctx.Err() != nil {
			return
		}
		a.retryRelease(ctx, k, id)
	}
	slices.Sort(keys)
	a.opts.health.keySynced(a.syncKeys(ctx, keys, false))
}

// syncCallTimeout bounds each store call of the periodic sync and of the
// lease-expiry re-creation. They hold the key's entry, so a call stuck in a
// leader election must not make Allocate and Release of that key wait for
// long (those give up at their own deadline in any case).
const syncCallTimeout = 10 * time.Second

// syncKeys re-creates the keys of those of keys this node holds, in
// batches of maxSyncBatch, one batch at a time. With reliablyMissing the
// slave keys are known to be gone (lost with the lease). It returns the
// errors of the re-creations that failed (nil when the ctx ended them).
func (a *Allocator) syncKeys(ctx context.Context, keys []string, reliablyMissing bool) error {
	var errs []error
	for len(keys) > 0 && ctx.Err() == nil {
		n := min(len(keys), maxSyncBatch)
		errs = append(errs, a.syncBatch(ctx, keys[:n], reliablyMissing))
		keys = keys[n:]
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

// heldKey is a key whose entry the sync holds.
type heldKey struct {
	key string
	lk  *localKey
}

// syncBatch re-creates the keys of a batch. It holds the entries of the
// keys while it works, so that a concurrent Release does not see its slave
// key re-created behind it; entries busy with another call are synced
// after the batch, waiting for them. On a transactional store the common
// case costs one transaction for the batch (two for the periodic sync,
// which first reads what is missing); any key whose master key does not
// name it any more is looked at alone: re-created if its ID is free, moved
// to another ID (with a Modify Event) if the ID went to another key.
func (a *Allocator) syncBatch(ctx context.Context, keys []string, reliablyMissing bool) error {
	var held []heldKey
	var items []syncItem
	var busy []string
	for _, key := range keys {
		lk := a.acquire(key)
		if !lk.tryLock() {
			a.done(key, lk, 1) // the holder decides whether the entry goes
			busy = append(busy, key)
			continue
		}
		if lk.refs == 0 {
			lk.unlock()
			a.done(key, lk, 0)
			continue
		}
		held = append(held, heldKey{key, lk})
		items = append(items, syncItem{key: key, id: lk.id})
	}
	todo := items
	if a.txn != nil && len(items) > 0 {
		cctx, cancel := context.WithTimeout(ctx, syncCallTimeout)
		if !reliablyMissing {
			stale, err := a.txn.staleItems(cctx, items)
			if err == nil {
				todo = stale
			}
		}
		if len(todo) > 0 {
			if ok, err := a.txn.restoreSlaves(cctx, todo); err == nil && ok {
				a.log.WithField("keys", len(todo)).Info("Re-created slave keys")
				todo = nil
			}
		}
		cancel()
	}
	var events []Event
	var errs []error
	for _, it := range todo {
		for _, h := range held {
			if h.key == it.key {
				ev, ok, err := a.syncHeld(ctx, h.key, h.lk, reliablyMissing)
				if ok {
					events = append(events, ev)
				}
				errs = append(errs, err)
				break
			}
		}
	}
	for _, h := range held {
		refs := h.lk.refs
		h.lk.unlock()
		a.done(h.key, h.lk, refs)
	}
	for _, key := range busy {
		errs = append(errs, a.syncKey(ctx, key, reliablyMissing))
	}
	a.send(events...)
	return errors.Join(errs...)
}

// syncKey re-creates the keys of key if this node holds it, waiting for
// its entry.
func (a *Allocator) syncKey(ctx context.Context, key string, reliablyMissing bool) error {
	lk := a.acquire(key)
	if err := lk.lock(ctx); err != nil {
		a.abandon(key, lk)
		return nil
	}
	var ev Event
	var moved bool
	var err error
	if lk.refs > 0 {
		ev, moved, err = a.syncHeld(ctx, key, lk, reliablyMissing)
	}
	refs := lk.refs
	lk.unlock()
	a.done(key, lk, refs)
	if moved {
		a.send(ev)
	}
	return err
}

// syncHeld re-creates the keys of key, whose entry the caller holds. If
// its ID went to another key, it moves this node's reference to an ID of
// key and returns the Modify Event to send once the entry is released. The
// error is that of a re-creation that failed (nil when ctx ended it).
func (a *Allocator) syncHeld(ctx context.Context, key string, lk *localKey, reliablyMissing bool) (Event, bool, error) {
	cctx, cancel := context.WithTimeout(ctx, syncCallTimeout)
	defer cancel()
	err := a.updateKey(cctx, lk.id, key, reliablyMissing)
	if err == nil || ctx.Err() != nil {
		return Event{}, false, nil
	}
	if !errors.Is(err, ErrIDReassigned) {
		a.log.WithError(err).WithField("key", key).Warning("Unable to re-create the keys of a local key")
		return Event{}, false, fmt.Errorf("re-create the keys of %q: %w", key, err)
	}
	old := lk.id
	id, _, err := a.allocate(cctx, key)
	if err != nil {
		a.log.WithError(err).WithFields(logrus.Fields{"key": key, "id": old}).Error(
			"The ID of a local key went to another key while this node's slave key was lost, and no other ID could be allocated; retrying at the next sync")
		return Event{}, false, fmt.Errorf("move %q off ID %d, which went to another key: %w", key, old, err)
	}
	lk.id, lk.created = id, time.Time{}
	a.log.WithFields(logrus.Fields{"key": key, "old_id": old, "id": id}).Warning(
		"The ID of a local key went to another key while this node's slave key was lost: the key moved to another ID")
	return Event{Typ: kvstore.EventTypeModify, ID: id, Key: key, PrevID: old}, true, nil
}

// updateKey re-creates the keys of key (ID id). On a store without
// transactions it takes key's lock, so that the check of the master key
// and the write of the slave key cannot be split by a GC.
func (a *Allocator) updateKey(ctx context.Context, id ID, key string, reliablyMissing bool) error {
	if a.txn != nil {
		return a.backend.UpdateKey(ctx, id, key, reliablyMissing)
	}
	lock, err := a.backend.Lock(ctx, key)
	if err != nil {
		return fmt.Errorf("lock %q: %w", key, err)
	}
	defer func() {
		uctx, cancel := graceContext(ctx)
		_ = lock.Unlock(uctx)
		cancel()
	}()
	return a.backend.UpdateKeyIfLocked(ctx, id, key, reliablyMissing, lock)
}

// retryRelease deletes this node's slave key of key, left behind by a
// failed Release, unless the key is held again.
func (a *Allocator) retryRelease(ctx context.Context, key string, id ID) {
	lk := a.acquire(key)
	if err := lk.lock(ctx); err != nil {
		a.abandon(key, lk)
		return
	}
	refs := lk.refs
	if refs == 0 {
		cctx, cancel := context.WithTimeout(ctx, syncCallTimeout)
		err := a.backend.Release(cctx, id, key)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				a.log.WithError(err).WithField("key", key).Warning("Unable to delete the slave key of a released key; retrying at the next sync")
			}
			a.mu.Lock()
			a.unreleased[key] = id
			a.mu.Unlock()
		} else {
			a.mu.Lock()
			delete(a.unreleased, key)
			a.mu.Unlock()
		}
	}
	lk.unlock()
	a.done(key, lk, refs)
}

// startGC runs GC rounds (master keys, then stale locks) every GC interval.
func (a *Allocator) startGC() {
	a.goBackground(func() {
		limiter := rate.NewLimiter(rate.Limit(DefaultGCRate), DefaultGCRate)
		var stale map[string]uint64
		var staleLocks map[string]kvstore.Value
		t := time.NewTicker(a.opts.gcInterval)
		defer t.Stop()
		for {
			select {
			case <-a.ctx.Done():
				return
			case <-t.C:
			}
			next, stats, err := a.RunGC(a.ctx, limiter, stale)
			if err != nil {
				if a.ctx.Err() == nil {
					a.log.WithError(err).Warning("Allocator GC round failed")
					a.opts.health.gcRound("GC", nil, err)
				}
				continue
			}
			stale = next
			a.opts.health.gcRound("GC", stats, nil)
			a.log.WithField("alive", stats.Alive).WithField("deleted", stats.Deleted).Debug("Allocator GC round done")
			if nextLocks, err := a.RunLocksGC(a.ctx, staleLocks); err == nil {
				staleLocks = nextLocks
			} else if a.ctx.Err() == nil {
				a.log.WithError(err).Warning("Allocator lock GC round failed")
				a.opts.health.gcRound("locks GC", nil, err)
			}
		}
	})
}
