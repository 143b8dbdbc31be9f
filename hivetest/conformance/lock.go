package conformance

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

// lockWaitTimeout bounds how long a case waits for a lock that must come:
// a waiter is woken by the release, so a healthy backend needs milliseconds;
// the bound only turns a hang into a failure.
const lockWaitTimeout = 10 * time.Second

func lockCases() []Case {
	return []Case{
		{"EmptyPath", testLockEmptyPath},
		{"LockedOps", testLockedOps},
		{"IndependentPaths", testLockIndependentPaths},
		{"MutualExclusion", testLockMutualExclusion},
		{"WaiterGetsLockAfterUnlock", testLockWaiterGetsLock},
		{"CancelWhileWaiting", testLockCancelWhileWaiting},
		{"DeadlineWhileWaiting", testLockDeadlineWhileWaiting},
		{"LocalWaiterCancelled", testLockLocalWaiterCancelled},
		{"ExpiryFencing", testLockExpiryFencing},
		{"UnlockIdempotent", testLockUnlockIdempotent},
		{"ForeignLocker", testLockForeignLocker},
		{"Closed", testLockClosed},
	}
}

// lockKeysUnder lists the lock queue of path: the keys path/<lease hex>.
func lockKeysUnder(t testing.TB, c kvstore.BackendOperations, path string) kvstore.KeyValuePairs {
	t.Helper()
	pairs, err := c.ListPrefix(caseCtx(t), path+"/")
	require.NoError(t, err)
	return pairs
}

// waitQueued waits until n keys queue for path.
func waitQueued(t testing.TB, c kvstore.BackendOperations, path string, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(lockKeysUnder(t, c, path)) == n },
		lockWaitTimeout, 5*time.Millisecond, "waiting for %d keys to queue for %q", n, path)
}

// lockAsync starts LockPath on a goroutine and returns where its result
// arrives.
func lockAsync(ctx context.Context, c kvstore.BackendOperations, path string) <-chan lockResult {
	ch := make(chan lockResult, 1)
	go func() {
		l, err := c.LockPath(ctx, path)
		ch <- lockResult{l, err}
	}()
	return ch
}

type lockResult struct {
	l   kvstore.KVLocker
	err error
}

func awaitLock(t testing.TB, ch <-chan lockResult) lockResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(lockWaitTimeout):
		t.Fatalf("LockPath did not return within %s", lockWaitTimeout)
		return lockResult{}
	}
}

func requireUnlock(t testing.TB, l kvstore.KVLocker) {
	t.Helper()
	require.NoError(t, l.Unlock(caseCtx(t)))
}

func testLockEmptyPath(t *testing.T, b Backend) {
	c := newCaseClient(t, b, hivetest.UniquePrefix(t))
	_, err := c.LockPath(caseCtx(t), "")
	require.ErrorIs(t, err, kvstore.ErrEmptyKey)
}

// testLockedOps checks the results of every *IfLocked operation while the
// lock is held: they behave like their plain counterparts.
func testLockedOps(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	l, err := c.LockPath(ctx, p+"lock")
	require.NoError(t, err)
	defer requireUnlock(t, l)

	v, err := c.GetIfLocked(ctx, p+"data/a", l)
	require.NoError(t, err)
	require.Nil(t, v, "missing key")

	require.NoError(t, c.UpdateIfLocked(ctx, p+"data/a", []byte("1"), false, l))
	v, err = c.GetIfLocked(ctx, p+"data/a", l)
	require.NoError(t, err)
	require.Equal(t, []byte("1"), v)

	written, err := c.UpdateIfDifferentIfLocked(ctx, p+"data/a", []byte("1"), false, l)
	require.NoError(t, err)
	require.False(t, written, "same value")
	written, err = c.UpdateIfDifferentIfLocked(ctx, p+"data/a", []byte("2"), false, l)
	require.NoError(t, err)
	require.True(t, written, "new value")
	written, err = c.UpdateIfDifferentIfLocked(ctx, p+"data/new", []byte("x"), false, l)
	require.NoError(t, err)
	require.True(t, written, "missing key")

	created, err := c.CreateOnlyIfLocked(ctx, p+"data/a", []byte("3"), false, l)
	require.NoError(t, err)
	require.False(t, created, "existing key")
	created, err = c.CreateOnlyIfLocked(ctx, p+"data/b", []byte("b"), false, l)
	require.NoError(t, err)
	require.True(t, created)

	pairs, err := c.ListPrefixIfLocked(ctx, p+"data/", l)
	require.NoError(t, err)
	require.Len(t, pairs, 3)
	require.Equal(t, []byte("2"), pairs[p+"data/a"].Data, "CreateOnlyIfLocked left the existing value alone")
	require.Equal(t, []byte("b"), pairs[p+"data/b"].Data)

	require.NoError(t, c.DeleteIfLocked(ctx, p+"data/a", l))
	require.NoError(t, c.DeleteIfLocked(ctx, p+"data/missing", l), "deleting a missing key is no error")
	v, err = c.Get(ctx, p+"data/a")
	require.NoError(t, err)
	require.Nil(t, v)

	require.NoError(t, c.UpdateIfLocked(ctx, p+"data/leased", []byte("l"), true, l))
	pairs, err = c.ListPrefix(ctx, p+"data/leased")
	require.NoError(t, err)
	require.NotZero(t, pairs[p+"data/leased"].LeaseID, "lease=true attaches the data lease")
}

// testLockIndependentPaths: one client holds several paths at once, each
// with its own fence.
func testLockIndependentPaths(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	l1, err := c.LockPath(ctx, p+"one")
	require.NoError(t, err)
	l2, err := c.LockPath(ctx, p+"two")
	require.NoError(t, err)
	require.NotEqual(t, l1.Comparator(), l2.Comparator())

	requireUnlock(t, l1)
	require.ErrorIs(t, c.UpdateIfLocked(ctx, p+"k", []byte("v"), false, l1), kvstore.ErrLockLeaseExpired)
	require.NoError(t, c.UpdateIfLocked(ctx, p+"k", []byte("v"), false, l2), "releasing one path keeps the other")
	requireUnlock(t, l2)
}

// testLockMutualExclusion: goroutines of two clients increment a counter
// under the lock; no increment is lost and no two holders overlap.
func testLockMutualExclusion(t *testing.T, b Backend) {
	const (
		clients    = 2
		goroutines = 4 // per client
		increments = 200
	)
	p := hivetest.UniquePrefix(t)
	path, counter := p+"lock", p+"counter"
	var cs []kvstore.BackendOperations
	for range clients {
		cs = append(cs, newCaseClient(t, b, p))
	}
	ctx := caseCtx(t)
	var (
		next    atomic.Int64 // increments handed out
		holders atomic.Int32 // goroutines inside the critical section
		wg      sync.WaitGroup
		errs    = make(chan error, clients*goroutines)
	)
	work := func(c kvstore.BackendOperations) error {
		for next.Add(1) <= increments {
			l, err := c.LockPath(ctx, path)
			if err != nil {
				return err
			}
			if n := holders.Add(1); n != 1 {
				t.Errorf("%d holders of the lock at once", n)
			}
			v, err := c.GetIfLocked(ctx, counter, l)
			if err == nil {
				n := 0
				if v != nil {
					n, err = strconv.Atoi(string(v))
				}
				if err == nil {
					err = c.UpdateIfLocked(ctx, counter, []byte(strconv.Itoa(n+1)), false, l)
				}
			}
			holders.Add(-1)
			if uerr := l.Unlock(ctx); err == nil {
				err = uerr
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	for i := range clients * goroutines {
		wg.Add(1)
		go func(c kvstore.BackendOperations) {
			defer wg.Done()
			if err := work(c); err != nil {
				errs <- err
			}
		}(cs[i%clients])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	v, err := cs[0].Get(ctx, counter)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(increments), string(v))
	require.Empty(t, lockKeysUnder(t, cs[0], path), "every lock key was removed")
}

// testLockWaiterGetsLock: a second client waits while the first holds the
// lock and gets it once the first unlocks; the first's fence is then dead.
func testLockWaiterGetsLock(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	path := p + "lock"
	c1, c2 := newCaseClient(t, b, p), newCaseClient(t, b, p)
	ctx := caseCtx(t)
	l1, err := c1.LockPath(ctx, path)
	require.NoError(t, err)

	got := lockAsync(ctx, c2, path)
	waitQueued(t, c1, path, 2)
	select {
	case r := <-got:
		t.Fatalf("second client got the lock while the first holds it (err %v)", r.err)
	default:
	}
	require.NoError(t, c1.UpdateIfLocked(ctx, p+"k", []byte("first"), false, l1), "the holder still holds")

	requireUnlock(t, l1)
	r := awaitLock(t, got)
	require.NoError(t, r.err)
	require.NoError(t, c2.UpdateIfLocked(ctx, p+"k", []byte("second"), false, r.l))
	require.ErrorIs(t, c1.UpdateIfLocked(ctx, p+"k", []byte("stale"), false, l1), kvstore.ErrLockLeaseExpired)
	v, err := c1.Get(ctx, p+"k")
	require.NoError(t, err)
	require.Equal(t, []byte("second"), v)
	requireUnlock(t, r.l)
}

// testLockCancelWhileWaiting: a waiter whose ctx is cancelled leaves no key
// in the queue and no local lock behind.
func testLockCancelWhileWaiting(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	path := p + "lock"
	c1, c2 := newCaseClient(t, b, p), newCaseClient(t, b, p)
	l1, err := c1.LockPath(caseCtx(t), path)
	require.NoError(t, err)

	wctx, cancel := context.WithCancel(caseCtx(t))
	got := lockAsync(wctx, c2, path)
	waitQueued(t, c1, path, 2)
	cancel()
	r := awaitLock(t, got)
	require.ErrorIs(t, r.err, context.Canceled)
	require.Nil(t, r.l)
	waitQueued(t, c1, path, 1)

	// The waiter's local lock is free: once the holder is gone it locks.
	requireUnlock(t, l1)
	l2, err := c2.LockPath(caseCtx(t), path)
	require.NoError(t, err)
	requireUnlock(t, l2)
	require.Empty(t, lockKeysUnder(t, c1, path))
}

// testLockDeadlineWhileWaiting: a waiter that runs out of time gets an error
// saying the kvstore client timed out, and leaves no key behind.
func testLockDeadlineWhileWaiting(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	path := p + "lock"
	c1, c2 := newCaseClient(t, b, p), newCaseClient(t, b, p)
	l1, err := c1.LockPath(caseCtx(t), path)
	require.NoError(t, err)
	defer requireUnlock(t, l1)

	ctx, cancel := context.WithTimeout(caseCtx(t), 200*time.Millisecond)
	defer cancel()
	_, err = c2.LockPath(ctx, path)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, kvstore.ErrClientTimeout)
	require.Len(t, lockKeysUnder(t, c1, path), 1, "only the holder's key is left")
}

// testLockLocalWaiterCancelled: a second goroutine of the holding client
// waits on the local lock; cancelling it leaves the holder untouched.
func testLockLocalWaiterCancelled(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	path := p + "lock"
	c := newCaseClient(t, b, p)
	l, err := c.LockPath(caseCtx(t), path)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(caseCtx(t), 100*time.Millisecond)
	defer cancel()
	_, err = c.LockPath(ctx, path)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, c.UpdateIfLocked(caseCtx(t), p+"k", []byte("v"), false, l), "the holder still holds")
	require.Len(t, lockKeysUnder(t, c, path), 1)

	requireUnlock(t, l)
	l2, err := c.LockPath(caseCtx(t), path)
	require.NoError(t, err)
	requireUnlock(t, l2)
}

// testLockExpiryFencing: once the lock lease is gone on the server, every
// *IfLocked operation fails with ErrLockLeaseExpired and changes nothing.
func testLockExpiryFencing(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	path := p + "lock"
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	require.NoError(t, c.Update(ctx, p+"data/k", []byte("before"), false))
	l, err := c.LockPath(ctx, path)
	require.NoError(t, err)

	keys := lockKeysUnder(t, c, path)
	require.Len(t, keys, 1)
	var lease int64
	for _, v := range keys {
		lease = v.LeaseID
	}
	require.NotZero(t, lease, "the lock key is attached to the lock lease")
	b.RevokeLease(t, lease)

	// The reference returns the sentinel itself, and code written for it
	// compares with ==: so must we.
	bare := func(err error, op string) {
		t.Helper()
		require.True(t, err == kvstore.ErrLockLeaseExpired, "%s: want ErrLockLeaseExpired itself, got %v", op, err)
	}
	_, err = c.GetIfLocked(ctx, p+"data/k", l)
	bare(err, "GetIfLocked")
	bare(c.UpdateIfLocked(ctx, p+"data/k", []byte("after"), false, l), "UpdateIfLocked")
	written, err := c.UpdateIfDifferentIfLocked(ctx, p+"data/k", []byte("after"), false, l)
	bare(err, "UpdateIfDifferentIfLocked")
	require.False(t, written)
	created, err := c.CreateOnlyIfLocked(ctx, p+"data/new", []byte("after"), false, l)
	bare(err, "CreateOnlyIfLocked")
	require.False(t, created)
	created, err = c.CreateOnlyIfLocked(ctx, p+"data/k", []byte("after"), false, l)
	require.NoError(t, err, "CreateOnlyIfLocked of an existing key answers (false, nil) even with the lock lost")
	require.False(t, created)
	bare(c.DeleteIfLocked(ctx, p+"data/k", l), "DeleteIfLocked")
	_, err = c.ListPrefixIfLocked(ctx, p+"data/", l)
	bare(err, "ListPrefixIfLocked")

	pairs, err := c.ListPrefix(ctx, p+"data/")
	require.NoError(t, err)
	require.Len(t, pairs, 1, "nothing was created or deleted")
	require.Equal(t, []byte("before"), pairs[p+"data/k"].Data, "nothing was written")

	// Unlocking a lost lock frees the path: the client locks it again, on a
	// live lease.
	_ = l.Unlock(ctx)
	l2, err := c.LockPath(ctx, path)
	require.NoError(t, err)
	require.NoError(t, c.UpdateIfLocked(ctx, p+"data/k", []byte("relocked"), false, l2))
	requireUnlock(t, l2)
}

// testLockUnlockIdempotent: a second Unlock does nothing, in particular it
// does not release a lock taken on the same path since.
func testLockUnlockIdempotent(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	path := p + "lock"
	c1, c2 := newCaseClient(t, b, p), newCaseClient(t, b, p)
	ctx := caseCtx(t)
	l, err := c1.LockPath(ctx, path)
	require.NoError(t, err)
	require.NoError(t, l.Unlock(ctx))
	require.NoError(t, l.Unlock(ctx))

	again, err := c1.LockPath(ctx, path)
	require.NoError(t, err)
	require.NoError(t, l.Unlock(ctx), "unlocking the old locker again")
	require.NoError(t, c1.UpdateIfLocked(ctx, p+"k", []byte("v"), false, again), "the new lock is still held")
	require.ErrorIs(t, c1.UpdateIfLocked(ctx, p+"k", []byte("v"), false, l), kvstore.ErrLockLeaseExpired)

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = c2.LockPath(short, path)
	require.ErrorIs(t, err, context.DeadlineExceeded, "another client still cannot lock")
	requireUnlock(t, again)
	requireUnlock(t, again)
}

// foreignLocker is a lock of no backend.
type foreignLocker struct{}

func (foreignLocker) Unlock(context.Context) error { return nil }
func (foreignLocker) Comparator() any              { return "not a fence" }

// testLockForeignLocker: a lock the backend did not create, or none, is an
// error naming the problem, never a panic, and nothing is written.
func testLockForeignLocker(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	ctx := caseCtx(t)
	for _, lock := range []kvstore.KVLocker{foreignLocker{}, nil} {
		_, err := c.GetIfLocked(ctx, p+"k", lock)
		require.ErrorIs(t, err, kvstore.ErrForeignLocker, "GetIfLocked")
		require.ErrorIs(t, c.UpdateIfLocked(ctx, p+"k", []byte("v"), false, lock), kvstore.ErrForeignLocker, "UpdateIfLocked")
		_, err = c.UpdateIfDifferentIfLocked(ctx, p+"k", []byte("v"), false, lock)
		require.ErrorIs(t, err, kvstore.ErrForeignLocker, "UpdateIfDifferentIfLocked")
		_, err = c.CreateOnlyIfLocked(ctx, p+"k", []byte("v"), false, lock)
		require.ErrorIs(t, err, kvstore.ErrForeignLocker, "CreateOnlyIfLocked")
		require.ErrorIs(t, c.DeleteIfLocked(ctx, p+"k", lock), kvstore.ErrForeignLocker, "DeleteIfLocked")
		_, err = c.ListPrefixIfLocked(ctx, p, lock)
		require.ErrorIs(t, err, kvstore.ErrForeignLocker, "ListPrefixIfLocked")
	}
	v, err := c.Get(ctx, p+"k")
	require.NoError(t, err)
	require.Nil(t, v)
}

// testLockClosed: LockPath on a closed client fails with ErrClientClosed,
// and unlocking a lock of a closed client returns without hanging.
func testLockClosed(t *testing.T, b Backend) {
	p := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, p)
	l, err := c.LockPath(caseCtx(t), p+"held")
	require.NoError(t, err)
	c.Close()
	_, err = c.LockPath(caseCtx(t), p+"lock")
	require.ErrorIs(t, err, kvstore.ErrClientClosed)
	_ = l.Unlock(caseCtx(t))
}
