package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/logfallback"
)

// SweptLock is a distributed lock key that LockSweeper deleted.
type SweptLock struct {
	Path           string        // the lock path: the key without its /<lease hex> suffix
	Key            string        // the deleted key
	Lease          int64         // the lease the key was attached to
	CreateRevision int64         // the key's create revision
	Age            time.Duration // how long the sweeper had seen the key unchanged
}

// LockSweeper removes distributed lock keys that outlived their owner's
// interest: after a partition an Unlock may fail while the owner's lease is
// kept alive, and the key then blocks every other node for as long as that
// process lives (Cilium #9855).
//
// A key is considered stale when it is the oldest waiter (the holder) of its
// lock path and two sweeps at least minAge apart found it with the same
// create revision and lease. A lock released and taken again in between has
// a new create revision and is never swept. Only the holder of each path is
// judged: waiters behind it are by definition waiting, not stuck.
//
// Lock keys are recognised by their layout, path/<lease id hex> with that
// lease attached, the layout of LockPath and of etcd's concurrency.Mutex;
// other keys under the prefixes are ignored.
//
// Sweep calls are serialised. The sweeper keeps marks only for the keys it
// saw in its last sweep.
type LockSweeper struct {
	store    lockKeyStore
	prefixes []string
	minAge   time.Duration
	log      logrus.FieldLogger
	clock    func() time.Time

	mu    sync.Mutex
	marks map[string]sweepMark
}

type sweepMark struct {
	rev, lease int64
	firstSeen  time.Time
}

// lockHolder is the oldest key of one lock path.
type lockHolder struct {
	path, key  string
	rev, lease int64
}

// lockKeyStore is what the sweeper needs from a backend: the holders under a
// prefix and a delete conditioned on the holder's identity. Only the etcd
// backend has distributed lock keys.
type lockKeyStore interface {
	lockHolders(ctx context.Context, prefix string) ([]lockHolder, error)
	deleteLockHolder(ctx context.Context, h lockHolder) (bool, error)
}

// NewLockSweeper returns a sweeper of the lock keys under prefixes of
// backend, which must be an etcd client of this package. minAge is the
// shortest time between the two sightings that condemn a key; choose at
// least twice the lock lease TTL so that a key whose lease merely expires
// is gone before it could be swept. log may be nil.
func NewLockSweeper(backend kvstore.BackendOperations, prefixes []string, minAge time.Duration, log logrus.FieldLogger) (*LockSweeper, error) {
	store, ok := backend.(lockKeyStore)
	if !ok {
		return nil, fmt.Errorf("%w: sweeping lock keys needs the etcd backend, not %T", kvstore.ErrNotImplemented, backend)
	}
	if minAge <= 0 {
		return nil, fmt.Errorf("%w: lock sweep interval must be positive, got %s", kvstore.ErrInvalidConfig, minAge)
	}
	var clean []string
	for _, p := range prefixes {
		if p = strings.TrimSpace(p); p != "" {
			clean = append(clean, p)
		}
	}
	if len(clean) == 0 {
		return nil, fmt.Errorf("%w: no lock sweep prefix given", kvstore.ErrInvalidConfig)
	}
	log = logfallback.OrWithSubsys(log, "kvstore")
	return &LockSweeper{
		store:    store,
		prefixes: clean,
		minAge:   minAge,
		log:      log,
		clock:    time.Now,
		marks:    make(map[string]sweepMark),
	}, nil
}

// Sweep lists the lock holders under every prefix, deletes those found
// unchanged for at least minAge, and returns what it deleted. A prefix that
// cannot be listed keeps its marks and adds its error to the returned one;
// the other prefixes are still swept.
func (s *LockSweeper) Sweep(ctx context.Context) ([]SweptLock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	next := make(map[string]sweepMark, len(s.marks))
	var (
		removed []SweptLock
		errs    []error
	)
	for _, prefix := range s.prefixes {
		holders, err := s.store.lockHolders(ctx, prefix)
		if err != nil {
			errs = append(errs, fmt.Errorf("listing lock keys under %q: %w", prefix, err))
			for k, m := range s.marks {
				if strings.HasPrefix(k, prefix) {
					next[k] = m
				}
			}
			continue
		}
		for _, h := range holders {
			if _, done := next[h.key]; done {
				continue // overlapping prefixes
			}
			m, ok := s.marks[h.key]
			if !ok || m.rev != h.rev || m.lease != h.lease {
				next[h.key] = sweepMark{rev: h.rev, lease: h.lease, firstSeen: now}
				continue
			}
			age := now.Sub(m.firstSeen)
			if age < s.minAge {
				next[h.key] = m
				continue
			}
			deleted, err := s.store.deleteLockHolder(ctx, h)
			if err != nil {
				errs = append(errs, fmt.Errorf("deleting stale lock key %q: %w", h.key, err))
				next[h.key] = m
				continue
			}
			if !deleted {
				continue // released or replaced since the listing
			}
			s.log.WithFields(logrus.Fields{
				"path": h.path, "key": h.key, "lease": fmt.Sprintf("%x", h.lease), "age": age,
			}).Warning("Deleted stale distributed lock: its holder kept it unchanged across two sweeps")
			removed = append(removed, SweptLock{Path: h.path, Key: h.key, Lease: h.lease, CreateRevision: h.rev, Age: age})
		}
	}
	s.marks = next
	return removed, errors.Join(errs...)
}

// lockHolders lists the lock keys under prefix and returns the oldest key
// of each lock path.
func (c *etcdClient) lockHolders(ctx context.Context, prefix string) ([]lockHolder, error) {
	// Not WithKeysOnly: etcd 3.7 answers keys-only ranges from its index,
	// without the lease of each key, which the sweep needs. Lock keys have
	// empty values, so the full range costs little more.
	resp, err := do(ctx, c, request{kind: kindRead, action: "ListLockKeys", key: prefix, keyField: "prefix"},
		func(cli *clientv3.Client) (*clientv3.GetResponse, error) {
			return cli.Get(ctx, prefix, clientv3.WithPrefix())
		})
	if err != nil {
		return nil, err
	}
	oldest := make(map[string]lockHolder)
	var order []string
	for _, kv := range resp.Kvs {
		key := string(kv.Key)
		i := strings.LastIndexByte(key, '/')
		if i <= 0 || kv.Lease == 0 || key[i+1:] != fmt.Sprintf("%x", kv.Lease) {
			continue // not a lock key
		}
		h := lockHolder{path: key[:i], key: key, rev: kv.CreateRevision, lease: kv.Lease}
		cur, ok := oldest[h.path]
		if !ok {
			order = append(order, h.path)
		}
		if !ok || h.rev < cur.rev {
			oldest[h.path] = h
		}
	}
	out := make([]lockHolder, 0, len(order))
	for _, p := range order {
		out = append(out, oldest[p])
	}
	return out, nil
}

// deleteLockHolder deletes h's key if it still has h's create revision and
// lease.
func (c *etcdClient) deleteLockHolder(ctx context.Context, h lockHolder) (bool, error) {
	resp, err := do(ctx, c, request{kind: kindDelete, action: "SweepLock", key: h.key},
		func(cli *clientv3.Client) (*clientv3.TxnResponse, error) {
			return cli.Txn(ctx).
				If(clientv3.Compare(clientv3.CreateRevision(h.key), "=", h.rev),
					clientv3.Compare(clientv3.LeaseValue(h.key), "=", h.lease)).
				Then(clientv3.OpDelete(h.key)).
				Commit()
		})
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}
