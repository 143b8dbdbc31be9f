package allocator

import (
	"context"
	"maps"
	"time"

	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore"
)

// expiryNotifier is implemented by the kvstore backend: it reports this
// node's slave keys lost with their lease.
type expiryNotifier interface {
	onSlaveKeyExpired(fn func(key string))
}

// onSlaveKeyExpired registers fn for this node's slave keys whose lease
// expired (nil unregisters). The store keeps one observer per prefix.
func (k *kvstoreBackend) onSlaveKeyExpired(fn func(key string)) {
	if fn == nil {
		k.b.RegisterLeaseExpiredObserver(k.keys.valuePrefix, nil)
		return
	}
	suffix := "/" + k.node
	k.b.RegisterLeaseExpiredObserver(k.keys.valuePrefix, func(full string) {
		rest := full[len(k.keys.valuePrefix):]
		if len(rest) <= len(suffix) || rest[len(rest)-len(suffix):] != suffix {
			return
		}
		fn(rest[:len(rest)-len(suffix)])
	})
}

// startSync starts the periodic re-creation of this node's keys and the
// re-creation of slave keys lost with their lease.
func (a *Allocator) startSync() {
	if n, ok := a.backend.(expiryNotifier); ok {
		n.onSlaveKeyExpired(func(key string) {
			done := a.opts.health.recreate()
			a.goBackground(func() { done(a.syncKey(a.ctx, key, true)) })
		})
		a.goBackground(func() {
			<-a.ctx.Done()
			n.onSlaveKeyExpired(nil)
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
	for _, k := range keys {
		if ctx.Err() != nil {
			return
		}
		a.opts.health.keySynced(a.syncKey(ctx, k, false))
	}
}

// syncCallTimeout bounds each store call of the periodic sync and of the
// lease-expiry re-creation. They hold the key's entry, so a call stuck in a
// leader election must not make Allocate and Release of that key wait for
// long (those give up at their own deadline in any case).
const syncCallTimeout = 10 * time.Second

// syncKey re-creates the keys of key if this node holds it, and returns
// the error of a re-creation that failed. It holds the key's entry so that
// a concurrent Release does not see its slave key re-created behind it.
func (a *Allocator) syncKey(ctx context.Context, key string, reliablyMissing bool) (err error) {
	lk := a.acquire(key)
	if err := lk.lock(ctx); err != nil {
		a.abandon(key, lk)
		return nil
	}
	refs, id := lk.refs, lk.id
	if refs > 0 {
		cctx, cancel := context.WithTimeout(ctx, syncCallTimeout)
		if err = a.backend.UpdateKey(cctx, id, key, reliablyMissing); err != nil && ctx.Err() == nil {
			a.log.WithError(err).WithField("key", key).Warning("Unable to re-create the keys of a local key")
		}
		cancel()
	}
	lk.unlock()
	a.done(key, lk, refs)
	if ctx.Err() != nil {
		return nil
	}
	return err
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
