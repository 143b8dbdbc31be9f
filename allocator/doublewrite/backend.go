package doublewrite

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
)

// backend writes to primary and secondary and reads from one of them.
type backend struct {
	primary, secondary allocator.Backend
	read               allocator.Backend
}

// NewBackend returns a Backend that writes to both backends (primary
// first) and reads from secondary if readFromSecondary, else primary.
func NewBackend(primary, secondary allocator.Backend, readFromSecondary bool) allocator.Backend {
	b := &backend{primary: primary, secondary: secondary, read: primary}
	if readFromSecondary {
		b.read = secondary
	}
	return b
}

// dualLock holds the key's lock on both sides.
type dualLock struct{ p, s kvstore.KVLocker }

func (l *dualLock) Unlock(ctx context.Context) error {
	// Both, always: Unlock releases local state even when it fails.
	return errors.Join(l.s.Unlock(ctx), l.p.Unlock(ctx))
}

func (l *dualLock) Comparator() any { return l.p.Comparator() }

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
	if err != nil {
		return nil, err
	}
	s, err := b.secondary.Lock(ctx, key)
	if err != nil {
		_ = p.Unlock(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("secondary: %w", err)
	}
	return &dualLock{p: p, s: s}, nil
}

func (b *backend) AllocateID(ctx context.Context, id allocator.ID, key string) error {
	return b.AllocateIDIfLocked(ctx, id, key, nil)
}

func (b *backend) AllocateIDIfLocked(ctx context.Context, id allocator.ID, key string, lock kvstore.KVLocker) error {
	p, s := split(lock)
	if err := allocateID(ctx, b.primary, id, key, p); err != nil {
		return err
	}
	err := allocateID(ctx, b.secondary, id, key, s)
	if err == nil {
		return nil
	}
	if errors.Is(err, allocator.ErrMasterKeyExists) {
		if k, gerr := b.secondary.GetByID(ctx, id); gerr == nil && k == key {
			return nil // filled before (periodic sync): same ID, same key
		}
	}
	// Undo on the primary, so that a retry starts from one state.
	if d, ok := b.primary.(allocator.IDDeleter); ok {
		if derr := d.DeleteID(context.WithoutCancel(ctx), id, key); derr != nil {
			return fmt.Errorf("secondary: %w (undo on the primary failed: %v)", err, derr)
		}
	}
	return fmt.Errorf("secondary: %w", err)
}

func allocateID(ctx context.Context, b allocator.Backend, id allocator.ID, key string, lock kvstore.KVLocker) error {
	if lock == nil {
		return b.AllocateID(ctx, id, key)
	}
	return b.AllocateIDIfLocked(ctx, id, key, lock)
}

func (b *backend) AcquireReference(ctx context.Context, id allocator.ID, key string, lock kvstore.KVLocker) error {
	p, s := split(lock)
	if err := b.primary.AcquireReference(ctx, id, key, p); err != nil {
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
	if err != nil {
		return fmt.Errorf("secondary: %w", err)
	}
	return nil
}

func (b *backend) Release(ctx context.Context, id allocator.ID, key string) error {
	return errors.Join(b.primary.Release(ctx, id, key), wrapSecondary(b.secondary.Release(ctx, id, key)))
}

func (b *backend) UpdateKey(ctx context.Context, id allocator.ID, key string, reliablyMissing bool) error {
	if err := b.primary.UpdateKey(ctx, id, key, reliablyMissing); err != nil {
		return err
	}
	// The secondary is filled by this sync: its keys are not known to
	// be missing, so write them if different.
	return wrapSecondary(b.secondary.UpdateKey(ctx, id, key, false))
}

func (b *backend) UpdateKeyIfLocked(ctx context.Context, id allocator.ID, key string, reliablyMissing bool, lock kvstore.KVLocker) error {
	p, s := split(lock)
	if err := b.primary.UpdateKeyIfLocked(ctx, id, key, reliablyMissing, p); err != nil {
		return err
	}
	if s == nil {
		return wrapSecondary(b.secondary.UpdateKey(ctx, id, key, false))
	}
	return wrapSecondary(b.secondary.UpdateKeyIfLocked(ctx, id, key, false, s))
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
// the stats are those of the read side.
func (b *backend) RunGC(ctx context.Context, limiter *rate.Limiter, prev map[string]uint64, minID, maxID allocator.ID) (map[string]uint64, *allocator.GCStats, error) {
	pPrev, sPrev := untag(prev)
	pNext, pStats, err := b.primary.RunGC(ctx, limiter, pPrev, minID, maxID)
	if err != nil {
		return nil, nil, err
	}
	sNext, sStats, err := b.secondary.RunGC(ctx, limiter, sPrev, minID, maxID)
	if err != nil {
		return nil, nil, fmt.Errorf("secondary: %w", err)
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
	if err != nil {
		return nil, err
	}
	sNext, err := b.secondary.RunLocksGC(ctx, sPrev)
	if err != nil {
		return nil, fmt.Errorf("secondary: %w", err)
	}
	return tag(pNext, sNext), nil
}

func (b *backend) DeleteAllKeys(ctx context.Context) error {
	return errors.Join(b.primary.DeleteAllKeys(ctx), wrapSecondary(b.secondary.DeleteAllKeys(ctx)))
}

func wrapSecondary(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("secondary: %w", err)
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
