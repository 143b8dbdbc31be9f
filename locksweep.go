package kvstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore/internal/logfallback"
)

// The one stale-lock rule of the module. After a partition an Unlock may
// fail while its owner's lease is kept alive, and the lock key then blocks
// every other node for as long as that process lives (Cilium #9855). A
// sweep removes such keys:
//
//   - A lock key is a key whose last segment is the hex ID of the lease it
//     is attached to: the layout of LockPath (path/<lease id hex>) and of
//     etcd's concurrency.Mutex. Other keys under a swept prefix are left
//     alone.
//   - Only the holder of a lock path (its lock key with the lowest
//     revision) can be stale: the keys behind it are waiting, not stuck.
//   - A holder is stale when two sweeps at least minAge apart found it with
//     the same revision and lease (minAge 0: any two consecutive sweeps,
//     the allocator's rounds). A lock released and taken again in between
//     has a new revision and is never swept.
//   - It is deleted only if its revision is still the one seen (in a
//     transaction on a Transactional backend), so a sweep never removes a
//     lock taken after it looked.
//
// SweepStaleLocks runs one sweep of one prefix; LockSweeper keeps the marks
// of several prefixes between sweeps (the lock GC cell); the allocator's
// RunLocksGC is a sweep of its locks prefix with minAge 0.

// SweptLock is a lock key that a sweep deleted.
type SweptLock struct {
	Path     string        // the lock path: the key without its /<lease hex> suffix
	Key      string        // the deleted key
	Lease    int64         // the lease the key was attached to
	Revision uint64        // the key's revision (lock keys are written once)
	Age      time.Duration // how long the key had been seen unchanged (0 if unknown)
}

// LockMark is what a sweep remembers of a lock holder for the next one.
type LockMark struct {
	Value     Value     // the holder as seen (revision, lease)
	FirstSeen time.Time // when it was first seen so (zero: unknown)
}

// SweepStaleLocks sweeps the lock keys under prefix of b once, following
// the rule above: marks are the previous sweep's (nil at first), next the
// ones to pass to the next sweep. It returns the keys it deleted and every
// error joined; a prefix that cannot be listed returns marks unchanged.
func SweepStaleLocks(ctx context.Context, b BackendOperations, prefix string, marks map[string]LockMark, minAge time.Duration, now time.Time) (next map[string]LockMark, swept []SweptLock, err error) {
	pairs, err := b.ListPrefix(ctx, prefix)
	if err != nil {
		return marks, nil, fmt.Errorf("listing lock keys under %q: %w", prefix, err)
	}
	next = make(map[string]LockMark)
	var errs []error
	for path, key := range lockHolders(pairs) {
		v := pairs[key]
		m, seen := marks[key]
		if !seen || m.Value.ModRevision != v.ModRevision || m.Value.LeaseID != v.LeaseID {
			next[key] = LockMark{Value: v, FirstSeen: now}
			continue
		}
		var age time.Duration
		if !m.FirstSeen.IsZero() {
			age = now.Sub(m.FirstSeen)
		}
		if age < minAge {
			next[key] = m
			continue
		}
		deleted, err := deleteIfRevision(ctx, b, key, v.ModRevision)
		if err != nil {
			errs = append(errs, fmt.Errorf("deleting stale lock key %q: %w", key, err))
			next[key] = m
			continue
		}
		if deleted {
			swept = append(swept, SweptLock{Path: path, Key: key, Lease: v.LeaseID, Revision: v.ModRevision, Age: age})
		}
	}
	return next, swept, errors.Join(errs...)
}

// lockHolders returns, for each lock path among pairs, its holder's key.
func lockHolders(pairs KeyValuePairs) map[string]string {
	holders := make(map[string]string)
	for key, v := range pairs {
		i := strings.LastIndexByte(key, '/')
		if i <= 0 || v.LeaseID == 0 || key[i+1:] != strconv.FormatInt(v.LeaseID, 16) {
			continue // not a lock key
		}
		path := key[:i]
		if cur, ok := holders[path]; !ok || v.ModRevision < pairs[cur].ModRevision {
			holders[path] = key
		}
	}
	return holders
}

// deleteIfRevision deletes key if its revision is still rev; false when it
// changed (released, or taken again) since.
func deleteIfRevision(ctx context.Context, b BackendOperations, key string, rev uint64) (bool, error) {
	tx, ok := b.(Transactional)
	if !ok {
		return true, b.Delete(ctx, key)
	}
	resp, err := tx.Txn(ctx, Txn{If: []Cmp{CmpModRevision(key, rev)}, Then: []Op{OpDelete(key)}})
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// LockSweeper sweeps the lock keys under several prefixes of one backend,
// keeping each holder's mark between sweeps (see SweepStaleLocks for the
// rule). Sweep calls are serialised; it is safe for concurrent use.
type LockSweeper struct {
	backend  BackendOperations
	prefixes []string
	minAge   time.Duration
	log      logrus.FieldLogger

	mu    sync.Mutex
	marks map[string]map[string]LockMark // by prefix
}

// NewLockSweeper returns a sweeper of the lock keys under prefixes of
// backend. minAge is the shortest time between the two sightings that
// condemn a key: choose at least twice the lock lease TTL, so that a key
// whose lease merely expires is gone before it could be swept. log may be
// nil.
func NewLockSweeper(backend BackendOperations, prefixes []string, minAge time.Duration, log logrus.FieldLogger) (*LockSweeper, error) {
	if backend == nil {
		return nil, fmt.Errorf("%w: sweeping lock keys needs a backend", ErrInvalidConfig)
	}
	if minAge <= 0 {
		return nil, fmt.Errorf("%w: lock sweep interval must be positive, got %s", ErrInvalidConfig, minAge)
	}
	var clean []string
	for _, p := range prefixes {
		if p = strings.TrimSpace(p); p != "" {
			clean = append(clean, p)
		}
	}
	if len(clean) == 0 {
		return nil, fmt.Errorf("%w: no lock sweep prefix given", ErrInvalidConfig)
	}
	return &LockSweeper{
		backend:  backend,
		prefixes: clean,
		minAge:   minAge,
		log:      logfallback.OrWithSubsys(log, "kvstore"),
		marks:    make(map[string]map[string]LockMark),
	}, nil
}

// Sweep sweeps every prefix once and returns what it deleted. A prefix that
// cannot be listed keeps its marks and adds its error to the returned one;
// the other prefixes are still swept. A key under overlapping prefixes is
// judged once.
func (s *LockSweeper) Sweep(ctx context.Context) ([]SweptLock, error) {
	return s.SweepAt(ctx, time.Now())
}

// SweepAt is Sweep with now as the time of the sweep, for callers that keep
// their own clock.
func (s *LockSweeper) SweepAt(ctx context.Context, now time.Time) ([]SweptLock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		removed []SweptLock
		errs    []error
		judged  = make(map[string]bool)
	)
	for _, prefix := range s.prefixes {
		next, swept, err := SweepStaleLocks(ctx, s.backend, prefix, s.marks[prefix], s.minAge, now)
		if err != nil {
			errs = append(errs, err)
		}
		for key := range next {
			if judged[key] {
				delete(next, key)
			}
			judged[key] = true
		}
		s.marks[prefix] = next
		for _, l := range swept {
			s.log.WithFields(logrus.Fields{
				"path": l.Path, "key": l.Key, "lease": strconv.FormatInt(l.Lease, 16), "age": l.Age,
			}).Warning("Deleted stale distributed lock: its holder kept it unchanged across two sweeps")
		}
		removed = append(removed, swept...)
	}
	return removed, errors.Join(errs...)
}
