package allocator

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore"
)

func (k *kvstoreBackend) RunGC(ctx context.Context, limiter *rate.Limiter, staleKeysPrevRound map[string]uint64, minID, maxID ID) (map[string]uint64, *GCStats, error) {
	pairs, err := k.b.ListPrefix(ctx, k.keys.idPrefix)
	if err != nil {
		return nil, nil, fmt.Errorf("list master keys %q: %w", k.keys.idPrefix, err)
	}
	stale := map[string]uint64{}
	stats := &GCStats{}
	for _, name := range slices.Sorted(maps.Keys(pairs)) {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		v := pairs[name]
		id, err := k.keys.idFromMaster(name)
		if err != nil {
			k.log.WithError(err).WithField("key", name).Warning("Cannot parse key suffix")
			continue
		}
		if (minID != NoID || maxID != NoID) && (id < minID || id > maxID) {
			k.log.WithField("id", id).Debugf("Skipping master key out of local cluster identity range [%d, %d]", minID, maxID)
			continue
		}
		deleted, mark, err := k.collect(ctx, name, v, staleKeysPrevRound)
		if err != nil {
			k.log.WithError(err).WithField("key", name).Warning("Unable to run GC on master key")
			continue
		}
		if mark {
			stale[name] = v.ModRevision
		}
		if deleted {
			stats.Deleted++
			if limiter != nil {
				if err := limiter.Wait(ctx); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	stats.Alive = len(pairs) - stats.Deleted
	return stale, stats, nil
}

// collect looks at one master key under its key's lock: unused and unchanged
// since the previous round, it is deleted; unused, it is marked.
func (k *kvstoreBackend) collect(ctx context.Context, name string, v kvstore.Value, prev map[string]uint64) (deleted, mark bool, err error) {
	key := string(v.Data)
	if key == "" {
		return false, false, fmt.Errorf("master key %q has an empty value", name)
	}
	lock, err := k.Lock(ctx, key)
	if err != nil {
		return false, false, fmt.Errorf("lock %q: %w", key, err)
	}
	defer func() { _ = lock.Unlock(context.WithoutCancel(ctx)) }()
	prefix := k.keys.slaves(key)
	slaves, err := k.b.ListPrefixIfLocked(ctx, prefix, lock)
	if err != nil {
		return false, false, err
	}
	for s := range slaves {
		if isSlaveOf(prefix, s) {
			return false, false, nil // in use
		}
	}
	if rev, ok := prev[name]; !ok || rev != v.ModRevision {
		return false, true, nil
	}
	if err := k.deleteIfUnchanged(ctx, name, v.ModRevision, lock); err != nil {
		return false, false, fmt.Errorf("delete master key: %w", err)
	}
	k.log.WithFields(logrus.Fields{"key": name, "value": key}).Info("Deleted unused allocator master key")
	return true, false, nil
}

// deleteIfUnchanged deletes name if it still has revision rev (when the
// backend can say so in one transaction) while lock is held. Without
// transactions the lock alone guards it, as in Cilium v1.16.
func (k *kvstoreBackend) deleteIfUnchanged(ctx context.Context, name string, rev uint64, lock kvstore.KVLocker) error {
	if k.tx == nil {
		return k.b.DeleteIfLocked(ctx, name, lock)
	}
	resp, err := k.tx.Txn(ctx, kvstore.Txn{
		If:   []kvstore.Cmp{kvstore.CmpModRevision(name, rev)},
		Then: []kvstore.Op{kvstore.OpDelete(name)},
		Lock: lock,
	})
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return fmt.Errorf("%q changed since it was marked (revision %d)", name, rev)
	}
	return nil
}

// RunLocksGC is one round of the module's stale-lock rule
// (kvstore.SweepStaleLocks) over the locks prefix: a lock holder found
// unchanged by the previous round is deleted.
func (k *kvstoreBackend) RunLocksGC(ctx context.Context, staleLocksPrevRound map[string]kvstore.Value) (map[string]kvstore.Value, error) {
	marks := make(map[string]kvstore.LockMark, len(staleLocksPrevRound))
	for key, v := range staleLocksPrevRound {
		marks[key] = kvstore.LockMark{Value: v}
	}
	next, swept, err := kvstore.SweepStaleLocks(ctx, k.b, k.keys.lockPrefix, marks, 0, time.Now())
	for _, l := range swept {
		k.log.WithFields(logrus.Fields{"key": l.Key, "lease": fmt.Sprintf("%x", l.Lease)}).Warning(
			"Forcefully removed distributed lock due to client staleness. Please check the connectivity between the KVStore and the client with that lease ID.")
	}
	out := make(map[string]kvstore.Value, len(next))
	for key, m := range next {
		out[key] = m.Value
	}
	if err != nil {
		return out, fmt.Errorf("locks GC of %q: %w", k.keys.lockPrefix, err)
	}
	return out, nil
}
