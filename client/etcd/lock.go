package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/pathlock"
	"github.com/hivekv/kvstore/client/internal/validate"
)

// lockTimeout caps a whole LockPath (local wait, session, queueing). A
// variable so that tests can shorten it; atomic because clients of other
// tests may be locking meanwhile.
var lockTimeout atomic.Int64

func init() { lockTimeout.Store(int64(kvstore.DefaultLockTimeout)) }

// lockCleanupTimeout bounds each attempt to delete the key of an
// acquisition that failed or of a lock whose Unlock failed. It runs on a
// fresh context: the caller's is typically the one that just ended. It is
// short because a failed LockPath waits for the first attempt before it
// returns, past its caller's deadline: when that attempt fails (a leader
// election, say), the background retry takes over (or, for a key of
// unknown revision, the lease or the next acquisition on the path).
const lockCleanupTimeout = time.Second

// lockState is the etcd client's lock bookkeeping.
//
// Locks come in two layers. The local table serialises the goroutines of
// this client on a path: an etcd lock key is named after the lease, and all
// lock keys of a client share its lock lease, so etcd alone could not tell
// two goroutines of one client apart. The distributed layer is the queue of
// keys path/<lease hex> under the prefix path, ordered by create revision,
// the layout of etcd's concurrency.Mutex so that both exclude each other.
type lockState struct {
	local *pathlock.Table
}

func (c *etcdClient) initLock() { c.lock.local = pathlock.New() }

// closeLock runs in Close right after c.ctx is cancelled: the local table
// leaves the process-wide GC. (Pending key cleanups end with c.ctx; spawn
// starts no new one once Close has begun.)
func (c *etcdClient) closeLock() { c.lock.local.Close() }

// withCap returns a ctx that is cancelled after d, like context.WithTimeout,
// but without a deadline. gRPC sends a ctx's deadline with every request and
// etcd arms a timer for it; for the two or three short requests of a lock
// cycle that cost a tenth of the cycle (measured against an embedded etcd).
// Once the cap fires, context.Cause(ctx) is an errCapExceeded; capExceeded
// turns the resulting cancellation back into a deadline error.
func withCap(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	t := time.AfterFunc(d, func() { cancel(&errCapExceeded{after: d}) })
	return ctx, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}

// errCapExceeded says that a withCap ctx ran out of time. It matches
// context.DeadlineExceeded, so kvstore.Hint marks it as a client timeout.
type errCapExceeded struct{ after time.Duration }

func (e *errCapExceeded) Error() string {
	return fmt.Sprintf("gave up after %s: %v", e.after, context.DeadlineExceeded)
}
func (e *errCapExceeded) Unwrap() error { return context.DeadlineExceeded }

// capExceeded returns err, or the cap's error if ctx's cap fired (err is
// then merely the cancellation it caused).
func capExceeded(ctx context.Context, err error) error {
	var capErr *errCapExceeded
	if err == nil || !errors.As(context.Cause(ctx), &capErr) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return capErr // the cancellation says nothing more
	}
	return fmt.Errorf("%w (%v)", capErr, err)
}

// errLockKeyLost is why an acquisition fails when its own queue key
// vanished (lease expired, swept, deleted by hand) before its turn came.
var errLockKeyLost = fmt.Errorf("%w: the lock key vanished while waiting for the lock", kvstore.ErrLockLeaseExpired)

// LockPath implements kvstore.BackendOperations.
func (c *etcdClient) LockPath(ctx context.Context, path string) (kvstore.KVLocker, error) {
	if err := validate.LockPath(path); err != nil {
		return nil, wrapOp("lock", path, err)
	}
	if c.ctx.Err() != nil {
		return nil, wrapOp("lock", path, kvstore.ErrClientClosed)
	}
	ctx, cancel := withCap(ctx, time.Duration(lockTimeout.Load()))
	defer cancel()
	// Close must interrupt a waiting LockPath, not leave it hanging for a
	// minute.
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()

	start := c.metrics.now()
	owner, err := c.lock.local.Lock(ctx, path)
	if err == nil {
		var l *etcdLocker
		l, err = c.lockRemote(ctx, path, owner)
		if err == nil {
			c.metrics.observe(kindSet, "AcquireLock", path, start, nil)
			if tracing.Load() {
				Trace("Locked", nil, logrus.Fields{"path": path, "key": l.key, "revision": l.rev})
			}
			return l, nil
		}
		c.lock.local.Unlock(path, owner)
	}
	switch {
	case c.ctx.Err() != nil:
		err = fmt.Errorf("%w: %v", kvstore.ErrClientClosed, err)
	default:
		err = capExceeded(ctx, err)
	}
	c.metrics.observe(kindSet, "AcquireLock", path, start, err)
	if tracing.Load() {
		Trace("Failed to lock", err, logrus.Fields{"path": path})
	}
	return nil, wrapOp("lock", path, err)
}

// lockRemote takes the distributed lock for path; the caller holds the local
// lock. On failure it leaves no key behind (as far as the server can be
// reached; otherwise the key goes with its lease). A lock lease that turns
// out to be gone on the server is replaced once: a lease revoked or expired
// before its keepalive noticed must not fail the next lock.
func (c *etcdClient) lockRemote(ctx context.Context, path string, owner pathlock.Owner) (*etcdLocker, error) {
	if _, err := c.client(ctx); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		session, err := c.lockLeases.GetSession(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("getting a lock session: %w", err)
		}
		l := &etcdLocker{
			c:       c,
			path:    path,
			prefix:  path + "/",
			key:     path + "/" + leaseHex(session.Lease()),
			session: session,
			owner:   owner,
		}
		var first bool
		l.rev, first, err = c.enqueue(ctx, l)
		if err == nil && !first {
			err = c.waitTurn(ctx, l)
		}
		if err == nil {
			l.cmp = clientv3.Compare(clientv3.CreateRevision(l.key), "=", l.rev)
			return l, nil
		}
		expired := c.lockLeases.CancelIfExpired(err, session.Lease())
		c.abandonAcquisition(l)
		c.lockLeases.Release(path)
		if !expired || attempt > 0 || ctx.Err() != nil {
			return nil, err
		}
	}
}

// enqueue creates l's key and reports its create revision and whether it is
// the oldest key under the prefix, i.e. holds the lock already. One round
// trip in the uncontended case.
func (c *etcdClient) enqueue(ctx context.Context, l *etcdLocker) (rev int64, first bool, err error) {
	for attempt := 0; attempt < 3; attempt++ {
		resp, err := do(ctx, c, request{}, func(cli *clientv3.Client) (*clientv3.TxnResponse, error) {
			return cli.Txn(ctx).
				If(clientv3.Compare(clientv3.CreateRevision(l.key), "=", 0)).
				Then(clientv3.OpPut(l.key, "", clientv3.WithLease(l.session.Lease())),
					clientv3.OpGet(l.prefix, queueRead(clientv3.SortAscend)...)).
				Else(clientv3.OpGet(l.key)).
				Commit()
		})
		if err != nil {
			return 0, false, err
		}
		if resp.Succeeded {
			rev = resp.Header.Revision
			oldest := firstInQueue(l.prefix, resp.Responses[1].GetResponseRange().Kvs)
			return rev, oldest == nil || oldest.CreateRevision == rev, nil
		}
		// The key exists although this client holds the local lock: it
		// is left by an earlier acquisition of the path on this lease,
		// whose Unlock failed (the background delete has not got through
		// yet) or whose local lock the GC released. That owner is fenced
		// out; replace its key, so that this acquisition has a create
		// revision (and a fence) of its own and the old owner's late
		// Unlock cannot delete it.
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			continue
		}
		stale := kvs[0].CreateRevision
		c.log.WithFields(logrus.Fields{"path": l.path, "key": l.key, "revision": stale}).
			Warning("Replacing a stale lock key of this client: its owner's Unlock failed or its local lock was garbage collected")
		if _, err := c.deleteLockKey(ctx, l.key, stale); err != nil {
			return 0, false, err
		}
	}
	return 0, false, fmt.Errorf("lock key %q keeps reappearing", l.key)
}

// waitTurn waits until every key queued before l's is gone. It watches only
// the closest predecessor, so one release wakes one waiter, and re-checks
// the queue after each deletion because a predecessor may leave out of
// order (its own ctx ended). It fails once l's own key vanished: the lease
// expired or someone deleted it, and the lock could never be ours.
func (c *etcdClient) waitTurn(ctx context.Context, l *etcdLocker) error {
	// The watch must end when the lock session does: a waiter whose lease
	// expired would otherwise wait for a turn it can no longer take.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(l.session.Ctx(), cancel)
	defer stop()
	for {
		var cli *clientv3.Client
		resp, err := do(ctx, c, request{}, func(raw *clientv3.Client) (*clientv3.TxnResponse, error) {
			cli = raw
			return raw.Txn(ctx).Then(
				clientv3.OpGet(l.prefix, append(queueRead(clientv3.SortDescend), clientv3.WithMaxCreateRev(l.rev-1))...),
				clientv3.OpGet(l.key)).
				Commit()
		})
		if err != nil {
			return err
		}
		if own := resp.Responses[1].GetResponseRange().Kvs; len(own) == 0 || own[0].CreateRevision != l.rev {
			return errLockKeyLost
		}
		before := firstInQueue(l.prefix, resp.Responses[0].GetResponseRange().Kvs)
		if before == nil {
			return nil
		}
		if err := waitDeleted(wctx, cli, string(before.Key), resp.Header.Revision+1); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if l.session.Ctx().Err() != nil {
				return errLockKeyLost
			}
			return err
		}
	}
}

// queueRead reads the keys under a lock's queue prefix, keys only, in create
// order. The range also holds the keys of locks on longer paths (x/y queues
// under x/ too), which the caller skips with firstInQueue: a lock waits only
// for holders and waiters of exactly its own path, or a client holding x/y
// would wait for itself when it locks x.
func queueRead(order clientv3.SortOrder) []clientv3.OpOption {
	return []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByCreateRevision, order)}
}

// firstInQueue returns the first of kvs that is an owner key of the queue
// prefix itself, nil if none is.
func firstInQueue(prefix string, kvs []*mvccpb.KeyValue) *mvccpb.KeyValue {
	for _, kv := range kvs {
		if pathlock.InQueue(prefix, string(kv.Key)) {
			return kv
		}
	}
	return nil
}

// waitDeleted returns once key is deleted at or after revision from.
// A compacted history is not an error: the caller re-reads the queue.
func waitDeleted(ctx context.Context, cli *clientv3.Client, key string, from int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range cli.Watch(ctx, key, clientv3.WithRev(from), clientv3.WithFilterPut()) {
		if wr.CompactRevision != 0 {
			return nil
		}
		if err := wr.Err(); err != nil {
			return fmt.Errorf("watching %q: %w", key, err)
		}
		for _, ev := range wr.Events {
			if ev.Type == mvccpb.DELETE {
				return nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("watching %q: watch closed", key)
}

// etcdLocker is a lock held through LockPath. Unlock may be called from any
// goroutine, any number of times; only the first call does anything.
type etcdLocker struct {
	c       *etcdClient
	path    string
	prefix  string // path + "/"
	key     string // prefix + lease hex
	rev     int64  // create revision of key in this acquisition
	session *concurrency.Session
	owner   pathlock.Owner
	cmp     clientv3.Cmp

	unlocked atomic.Bool
}

// Unlock implements kvstore.KVLocker. It deletes the key if it is still the
// one this acquisition created, then releases the local lock whatever
// happened. The delete is bounded by ctx and by the lock lease TTL. When
// the server cannot be reached Unlock returns the error and keeps deleting
// the key in the background until it succeeds or the lease is gone.
func (l *etcdLocker) Unlock(ctx context.Context) error {
	if l == nil || !l.unlocked.CompareAndSwap(false, true) {
		return nil
	}
	c := l.c
	defer c.lock.local.Unlock(l.path, l.owner)
	c.lockLeases.Release(l.path)
	// A caller's ctx without deadline must not make Unlock hang while the
	// server is unreachable: after one lock lease TTL the background retry
	// (or the lease's end) takes over.
	ctx, cancel := withCap(ctx, c.extra.EffectiveLockLeaseTTL())
	defer cancel()
	var (
		deleted bool
		err     error
	)
	if c.lock.local.BeginUnlock(l.path, l.owner) {
		// Still the local owner, and the GC now leaves us alone: no other
		// acquisition of this client can have replaced the key, so a plain
		// delete (cheaper than a transaction) removes exactly ours.
		deleted, err = c.deleteOwnLockKey(ctx, l.key)
	} else {
		// The GC took the local lock: a newer owner may have replaced the
		// key under the same name. Delete only our incarnation.
		deleted, err = c.deleteLockKey(ctx, l.key, l.rev)
	}
	if tracing.Load() {
		Trace("Unlocked", err, logrus.Fields{"path": l.path, "key": l.key, "deleted": deleted})
	}
	if err != nil {
		err = capExceeded(ctx, err)
		if !errors.Is(err, kvstore.ErrClientClosed) {
			c.releaseLater(l, "unlock", err)
		}
		return wrapOp("unlock", l.path, err)
	}
	return nil
}

// Comparator implements kvstore.KVLocker: a clientv3.Cmp that holds while
// the lock key still has the create revision of this acquisition. It is the
// same fence as concurrency.Mutex.IsOwner.
func (l *etcdLocker) Comparator() any {
	if l == nil {
		return nil
	}
	return l.cmp
}
