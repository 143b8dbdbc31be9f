package doublewrite

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/internal/logfallback"
)

// backend writes to primary and secondary and reads from one of them.
// Writes to the side read from decide the outcome; writes to the other
// side are best effort: a failure there is logged, counted
// (Metrics.MirrorFailures) and left for the periodic sync and Compare.
type backend struct {
	primary, secondary allocator.Backend
	read               allocator.Backend
	log                logrus.FieldLogger
	metrics            *Metrics
}

// Option configures NewBackend.
type Option func(*backend)

// WithLogger sets the logger of the failures on the side not read from
// (default: logrus' standard logger, see internal/logfallback).
func WithLogger(l logrus.FieldLogger) Option { return func(b *backend) { b.log = l } }

// WithMetrics makes the backend count into m (see NewMetrics).
func WithMetrics(m *Metrics) Option { return func(b *backend) { b.metrics = m } }

// NewBackend returns a Backend that writes to both backends (primary
// first) and reads from secondary if readFromSecondary, else primary.
func NewBackend(primary, secondary allocator.Backend, readFromSecondary bool, opts ...Option) allocator.Backend {
	b := &backend{primary: primary, secondary: secondary, read: primary}
	if readFromSecondary {
		b.read = secondary
	}
	for _, o := range opts {
		o(b)
	}
	b.log = logfallback.Or(b.log).WithField("subsys", "allocator-doublewrite")
	return b
}

// decide returns err of a write on side if side is read from (wrapped with
// "secondary: " for the secondary); on the other side it logs and counts
// err and returns nil.
func (b *backend) decide(op string, side allocator.Backend, err error) error {
	if err == nil {
		return nil
	}
	name := "primary"
	if side == b.secondary {
		name = "secondary"
	}
	if side == b.read {
		if name == "secondary" {
			return fmt.Errorf("secondary: %w", err)
		}
		return err
	}
	b.log.WithError(err).WithFields(logrus.Fields{"op": op, "side": name}).Warning(
		"Double write failed on the side not read from; the periodic sync repairs it (doublewrite.Compare shows what differs)")
	b.metrics.failed(op)
	return nil
}

// dualLock holds the key's lock on both sides; a side whose lock could not
// be taken (the side not read from: best effort) has none.
type dualLock struct{ p, s kvstore.KVLocker }

func (l *dualLock) Unlock(ctx context.Context) error {
	// Both, always: Unlock releases local state even when it fails.
	var errs []error
	if l.s != nil {
		errs = append(errs, l.s.Unlock(ctx))
	}
	if l.p != nil {
		errs = append(errs, l.p.Unlock(ctx))
	}
	return errors.Join(errs...)
}

func (l *dualLock) Comparator() any {
	if l.p != nil {
		return l.p.Comparator()
	}
	return l.s.Comparator()
}

// split returns the lock of each side: a dualLock from Lock, or a foreign
// lock that is used for the primary only.
func split(lock kvstore.KVLocker) (p, s kvstore.KVLocker) {
	if d, ok := lock.(*dualLock); ok {
		return d.p, d.s
	}
	return lock, nil
}

// readLock returns the part of lock that belongs to the read side (nil for
// the secondary's part of a foreign lock).
func (b *backend) readLock(lock kvstore.KVLocker) kvstore.KVLocker {
	p, s := split(lock)
	if b.read == b.secondary {
		return s
	}
	return p
}

func (b *backend) Lock(ctx context.Context, key string) (kvstore.KVLocker, error) {
	p, err := b.primary.Lock(ctx, key)
	if err = b.decide("lock", b.primary, err); err != nil {
		return nil, err
	}
	s, err := b.secondary.Lock(ctx, key)
	if err = b.decide("lock", b.secondary, err); err != nil {
		if p != nil {
			_ = p.Unlock(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	return &dualLock{p: p, s: s}, nil
}

func (b *backend) AllocateID(ctx context.Context, id allocator.ID, key string) error {
	return b.AllocateIDIfLocked(ctx, id, key, nil)
}

func (b *backend) AllocateIDIfLocked(ctx context.Context, id allocator.ID, key string, lock kvstore.KVLocker) error {
	p, s := split(lock)
	errP := allocateID(ctx, b.primary, id, key, p)
	if err := b.decide("allocate_id", b.primary, errP); err != nil {
		return err
	}
	errS := allocateID(ctx, b.secondary, id, key, s)
	if errors.Is(errS, allocator.ErrMasterKeyExists) {
		if k, gerr := b.secondary.GetByID(ctx, id); gerr == nil && k == key {
			errS = nil // filled before (periodic sync): same ID, same key
		}
	}
	if errS == nil || b.read != b.secondary {
		return b.decide("allocate_id", b.secondary, errS)
	}
	// The side read from refused: undo on the primary, so that a retry
	// starts from one state. The undo deletes the master key only if it
	// still names key, also on a store without transactions.
	if errP == nil {
		if d, ok := b.primary.(allocator.IDDeleter); ok {
			uctx := context.WithoutCancel(ctx)
			var derr error
			if p != nil {
				derr = d.DeleteIDIfLocked(uctx, id, key, p)
			} else {
				derr = d.DeleteID(uctx, id, key)
			}
			if derr != nil {
				return fmt.Errorf("secondary: %w (undo on the primary failed: %v)", errS, derr)
			}
		}
	}
	return fmt.Errorf("secondary: %w", errS)
}

func allocateID(ctx context.Context, b allocator.Backend, id allocator.ID, key string, lock kvstore.KVLocker) error {
	if lock == nil {
		return b.AllocateID(ctx, id, key)
	}
	return b.AllocateIDIfLocked(ctx, id, key, lock)
}

func (b *backend) AcquireReference(ctx context.Context, id allocator.ID, key string, lock kvstore.KVLocker) error {
	p, s := split(lock)
	if err := b.decide("acquire_reference", b.primary, b.primary.AcquireReference(ctx, id, key, p)); err != nil {
		return err
	}
	// The secondary may lack the master key (not synced yet): re-create
	// it with the slave key.
	var err error
	if s != nil {
		err = b.secondary.UpdateKeyIfLocked(ctx, id, key, false, s)
	} else {
		err = b.secondary.UpdateKey(ctx, id, key, false)
	}
	return b.decide("acquire_reference", b.secondary, err)
}

func (b *backend) Release(ctx context.Context, id allocator.ID, key string) error {
	errP := b.decide("release", b.primary, b.primary.Release(ctx, id, key))
	errS := b.decide("release", b.secondary, b.secondary.Release(ctx, id, key))
	return errors.Join(errP, errS)
}

func (b *backend) UpdateKey(ctx context.Context, id allocator.ID, key string, reliablyMissing bool) error {
	if err := b.decide("update_key", b.primary, b.primary.UpdateKey(ctx, id, key, reliablyMissing)); err != nil {
		return err
	}
	// The secondary is filled by this sync: its keys are not known to
	// be missing, so write them if different.
	return b.decide("update_key", b.secondary, b.secondary.UpdateKey(ctx, id, key, false))
}

func (b *backend) UpdateKeyIfLocked(ctx context.Context, id allocator.ID, key string, reliablyMissing bool, lock kvstore.KVLocker) error {
	p, s := split(lock)
	var err error
	if p != nil {
		err = b.primary.UpdateKeyIfLocked(ctx, id, key, reliablyMissing, p)
	} else {
		err = b.primary.UpdateKey(ctx, id, key, reliablyMissing)
	}
	if err := b.decide("update_key", b.primary, err); err != nil {
		return err
	}
	if s == nil {
		err = b.secondary.UpdateKey(ctx, id, key, false)
	} else {
		err = b.secondary.UpdateKeyIfLocked(ctx, id, key, false, s)
	}
	return b.decide("update_key", b.secondary, err)
}

func (b *backend) Get(ctx context.Context, key string) (allocator.ID, error) {
	return b.read.Get(ctx, key)
}

func (b *backend) GetIfLocked(ctx context.Context, key string, lock kvstore.KVLocker) (allocator.ID, error) {
	if l := b.readLock(lock); l != nil {
		return b.read.GetIfLocked(ctx, key, l)
	}
	return b.read.Get(ctx, key)
}

func (b *backend) GetByID(ctx context.Context, id allocator.ID) (string, error) {
	return b.read.GetByID(ctx, id)
}

// ListAndWatch watches the read side only.
func (b *backend) ListAndWatch(ctx context.Context, handler allocator.CacheMutations) {
	b.read.ListAndWatch(ctx, handler)
}

// Both sides' stale sets travel in one map, their names tagged by side.
const (
	tagPrimary   = "primary\x00"
	tagSecondary = "secondary\x00"
)

// RunGC runs a round on each side, each deciding on its own slave keys;
// the stats are those of the read side, and a failure on the other side
// is best effort (logged, counted).
func (b *backend) RunGC(ctx context.Context, limiter *rate.Limiter, prev map[string]uint64, minID, maxID allocator.ID) (map[string]uint64, *allocator.GCStats, error) {
	pPrev, sPrev := untag(prev)
	pNext, pStats, err := b.primary.RunGC(ctx, limiter, pPrev, minID, maxID)
	if err := b.decide("gc", b.primary, err); err != nil {
		return nil, nil, err
	}
	sNext, sStats, err := b.secondary.RunGC(ctx, limiter, sPrev, minID, maxID)
	if err := b.decide("gc", b.secondary, err); err != nil {
		return nil, nil, err
	}
	stats := pStats
	if b.read == b.secondary {
		stats = sStats
	}
	return tag(pNext, sNext), stats, nil
}

func (b *backend) RunLocksGC(ctx context.Context, prev map[string]kvstore.Value) (map[string]kvstore.Value, error) {
	pPrev, sPrev := untag(prev)
	pNext, err := b.primary.RunLocksGC(ctx, pPrev)
	if err := b.decide("locks_gc", b.primary, err); err != nil {
		return nil, err
	}
	sNext, err := b.secondary.RunLocksGC(ctx, sPrev)
	if err := b.decide("locks_gc", b.secondary, err); err != nil {
		return nil, err
	}
	return tag(pNext, sNext), nil
}

func (b *backend) DeleteAllKeys(ctx context.Context) error {
	errP := b.decide("delete_all", b.primary, b.primary.DeleteAllKeys(ctx))
	errS := b.decide("delete_all", b.secondary, b.secondary.DeleteAllKeys(ctx))
	return errors.Join(errP, errS)
}

func tag[V any](p, s map[string]V) map[string]V {
	out := make(map[string]V, len(p)+len(s))
	for k, v := range p {
		out[tagPrimary+k] = v
	}
	for k, v := range s {
		out[tagSecondary+k] = v
	}
	return out
}

func untag[V any](m map[string]V) (p, s map[string]V) {
	p, s = map[string]V{}, map[string]V{}
	for k, v := range m {
		switch {
		case len(k) > len(tagPrimary) && k[:len(tagPrimary)] == tagPrimary:
			p[k[len(tagPrimary):]] = v
		case len(k) > len(tagSecondary) && k[:len(tagSecondary)] == tagSecondary:
			s[k[len(tagSecondary):]] = v
		}
	}
	return p, s
}
