package memory

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

// lockKeys returns the keys under path/, the lock owner and contenders.
func lockKeys(t testing.TB, c *client, path string) kvstore.KeyValuePairs {
	t.Helper()
	pairs, err := c.ListPrefix(testCtx(t), path+"/")
	require.NoError(t, err)
	return pairs
}

// lockAsync starts LockPath on a goroutine and returns where its result goes.
func lockAsync(ctx context.Context, c *client, path string) <-chan lockResult {
	out := make(chan lockResult, 1)
	go func() {
		l, err := c.LockPath(ctx, path)
		out <- lockResult{l, err}
	}()
	return out
}

type lockResult struct {
	l   kvstore.KVLocker
	err error
}

func requirePending(t testing.TB, ch <-chan lockResult) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("lock acquired while held elsewhere: %+v", r)
	default:
	}
}

func requireLocked(t testing.TB, ch <-chan lockResult) kvstore.KVLocker {
	t.Helper()
	select {
	case r := <-ch:
		require.NoError(t, r.err)
		return r.l
	case <-time.After(testTimeout):
		t.Fatal("lock not acquired")
	}
	return nil
}

// waitContenders waits until path has n keys: owner plus waiters.
func waitContenders(t testing.TB, c *client, path string, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(lockKeys(t, c, path)) == n },
		testTimeout, time.Millisecond, "expected %d keys under %s/", n, path)
}

func TestMemoryLockKeyLayout(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	ctx := testCtx(t)
	l, err := c.LockPath(ctx, "locks/a")
	require.NoError(t, err)
	keys := lockKeys(t, c, "locks/a")
	require.Len(t, keys, 1)
	for k, v := range keys {
		id, err := c.lockLeases.GetLeaseID("locks/a")
		require.NoError(t, err)
		require.Equal(t, "locks/a/"+leaseHex(id), k, "path/<lock lease id hex>, as etcd's mutex")
		require.Equal(t, id, v.LeaseID, "on the lock lease")
		require.NotContains(t, s.LeaseKeys(mustLease(t, c.leases, "x")), k, "not on a data lease")
	}
	require.Equal(t, 1, c.locks.Held())

	require.NoError(t, l.Unlock(ctx))
	require.NoError(t, l.Unlock(ctx), "idempotent")
	require.Empty(t, lockKeys(t, c, "locks/a"))
	require.Zero(t, c.locks.Held())
}

func mustLease(t testing.TB, m *leaseManager, key string) int64 {
	id, err := m.GetLeaseID(key)
	require.NoError(t, err)
	return id
}

func TestMemoryLockQueue(t *testing.T) {
	s := NewStore()
	a, b, c := newTestClient(t, s, nil), newTestClient(t, s, nil), newTestClient(t, s, nil)
	ctx := testCtx(t)

	la, err := a.LockPath(ctx, "p")
	require.NoError(t, err)
	chB := lockAsync(ctx, b, "p")
	waitContenders(t, a, "p", 2)
	chC := lockAsync(ctx, c, "p")
	waitContenders(t, a, "p", 3)
	requirePending(t, chB)
	requirePending(t, chC)

	// Waiters are served in the order of their keys' create revisions.
	require.NoError(t, la.Unlock(ctx))
	lb := requireLocked(t, chB)
	requirePending(t, chC)
	require.NoError(t, lb.Unlock(ctx))
	lc := requireLocked(t, chC)

	// A waiter whose predecessor gives up keeps waiting for the owner.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chA := lockAsync(cctx, a, "p")
	waitContenders(t, a, "p", 2)
	chB = lockAsync(ctx, b, "p")
	waitContenders(t, a, "p", 3)
	cancel()
	require.ErrorIs(t, (<-chA).err, context.Canceled)
	waitContenders(t, a, "p", 2)
	requirePending(t, chB)
	require.NoError(t, lc.Unlock(ctx))
	lb = requireLocked(t, chB)
	require.NoError(t, lb.Unlock(ctx))
	require.Empty(t, lockKeys(t, a, "p"))

	// Locks of different paths, even nested ones, do not interfere.
	l1, err := a.LockPath(ctx, "p")
	require.NoError(t, err)
	l2, err := b.LockPath(ctx, "p/q")
	require.NoError(t, err)
	l3, err := c.LockPath(ctx, "pp")
	require.NoError(t, err)
	for _, l := range []kvstore.KVLocker{l1, l2, l3} {
		require.NoError(t, l.Unlock(ctx))
	}
}

func TestMemoryLockLocalMutex(t *testing.T) {
	c := newTestClient(t, NewStore(), nil)
	ctx := testCtx(t)
	l, err := c.LockPath(ctx, "p")
	require.NoError(t, err)
	// The second goroutine of the same client waits on the local lock and
	// creates no key yet: the store lock would let the same lease in.
	ch := lockAsync(ctx, c, "p")
	requirePending(t, ch)
	require.Len(t, lockKeys(t, c, "p"), 1)
	require.NoError(t, l.Unlock(ctx))
	require.NoError(t, requireLocked(t, ch).Unlock(ctx))
}

func TestMemoryLockCancel(t *testing.T) {
	s := NewStore()
	a, b := newTestClient(t, s, nil), newTestClient(t, s, nil)
	ctx := testCtx(t)
	la, err := a.LockPath(ctx, "p")
	require.NoError(t, err)

	t.Run("cancel", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		ch := lockAsync(cctx, b, "p")
		waitContenders(t, a, "p", 2)
		cancel()
		r := <-ch
		require.ErrorIs(t, r.err, context.Canceled)
		require.Nil(t, r.l)
		require.Len(t, lockKeys(t, a, "p"), 1, "the waiter's key is gone")
		require.Zero(t, b.locks.Held(), "the local lock is released")
	})

	t.Run("deadline", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := b.LockPath(dctx, "p")
		require.ErrorIs(t, err, kvstore.ErrClientTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Contains(t, err.Error(), `kvstore: lock "p": `)
		require.Len(t, lockKeys(t, a, "p"), 1)
		require.Zero(t, b.locks.Held())
	})

	t.Run("local deadline", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := a.LockPath(dctx, "p")
		require.ErrorIs(t, err, kvstore.ErrClientTimeout)
		require.Equal(t, 1, a.locks.Held(), "the holder's local lock stays")
	})

	t.Run("close", func(t *testing.T) {
		c := s.NewClient(nil).(*client)
		ch := lockAsync(ctx, c, "p")
		waitContenders(t, a, "p", 2)
		c.Close()
		r := <-ch
		require.ErrorIs(t, r.err, kvstore.ErrClientClosed)
		require.Len(t, lockKeys(t, a, "p"), 1)
	})

	require.NoError(t, la.Unlock(ctx))
	lb, err := b.LockPath(ctx, "p")
	require.NoError(t, err, "the lock is free again")
	require.NoError(t, lb.Unlock(ctx))
}

func TestMemoryLockErrors(t *testing.T) {
	c := newTestClient(t, NewStore(), nil)
	ctx := testCtx(t)
	_, err := c.LockPath(ctx, "")
	require.ErrorIs(t, err, kvstore.ErrEmptyKey)
	c.Close()
	_, err = c.LockPath(ctx, "p")
	require.ErrorIs(t, err, kvstore.ErrClientClosed)
}

func TestMemoryFencedOps(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	ctx := testCtx(t)
	l, err := c.LockPath(ctx, "locks/p")
	require.NoError(t, err)

	require.NoError(t, c.UpdateIfLocked(ctx, "k", []byte("1"), false, l))
	v, err := c.GetIfLocked(ctx, "k", l)
	require.NoError(t, err)
	require.Equal(t, []byte("1"), v)
	written, err := c.UpdateIfDifferentIfLocked(ctx, "k", []byte("1"), false, l)
	require.NoError(t, err)
	require.False(t, written)
	written, err = c.UpdateIfDifferentIfLocked(ctx, "k", []byte("2"), true, l)
	require.NoError(t, err)
	require.True(t, written)
	created, err := c.CreateOnlyIfLocked(ctx, "k", []byte("3"), false, l)
	require.NoError(t, err)
	require.False(t, created)
	created, err = c.CreateOnlyIfLocked(ctx, "k2", []byte("3"), false, l)
	require.NoError(t, err)
	require.True(t, created)
	pairs, err := c.ListPrefixIfLocked(ctx, "k", l)
	require.NoError(t, err)
	require.Len(t, pairs, 2)
	require.NotZero(t, pairs["k"].LeaseID)
	require.NoError(t, c.DeleteIfLocked(ctx, "k2", l))

	// Empty keys are refused before anything else.
	_, err = c.GetIfLocked(ctx, "", l)
	require.ErrorIs(t, err, kvstore.ErrEmptyKey)
	require.ErrorIs(t, c.UpdateIfLocked(ctx, "", nil, false, l), kvstore.ErrEmptyKey)

	// The lock lease is revoked: the lock key vanishes and every fenced
	// operation fails without effect.
	lockLease := lockKeys(t, c, "locks/p")["locks/p/"+leaseHex(mustLease(t, c.lockLeases, "locks/p"))].LeaseID
	require.NotZero(t, lockLease)
	require.True(t, s.RevokeLease(lockLease))
	rev := s.Revision()
	expired := map[string]error{}
	_, expired["get"] = c.GetIfLocked(ctx, "k", l)
	expired["update"] = c.UpdateIfLocked(ctx, "k", []byte("x"), false, l)
	written, expired["update-if-different"] = c.UpdateIfDifferentIfLocked(ctx, "k", []byte("x"), false, l)
	require.False(t, written)
	created, expired["create"] = c.CreateOnlyIfLocked(ctx, "new", []byte("x"), true, l)
	require.False(t, created)
	expired["delete"] = c.DeleteIfLocked(ctx, "k", l)
	_, expired["list"] = c.ListPrefixIfLocked(ctx, "", l)
	for op, err := range expired {
		require.ErrorIs(t, err, kvstore.ErrLockLeaseExpired, op)
	}
	require.Equal(t, rev, s.Revision(), "nothing written")

	// An existing key is reported as existing, lock or no lock, as the
	// etcd transaction's Else branch does.
	created, err = c.CreateOnlyIfLocked(ctx, "k", []byte("x"), false, l)
	require.NoError(t, err)
	require.False(t, created)

	require.NoError(t, l.Unlock(ctx), "unlocking a lost lock is fine")
	require.Zero(t, c.locks.Held())

	// A new lock works on a fresh lock lease.
	l2, err := c.LockPath(ctx, "locks/p")
	require.NoError(t, err)
	require.NoError(t, c.UpdateIfLocked(ctx, "k", []byte("y"), false, l2))
	require.NoError(t, l2.Unlock(ctx))
}

func TestMemoryFencedOpsUnlocked(t *testing.T) {
	c := newTestClient(t, NewStore(), nil)
	ctx := testCtx(t)
	l, err := c.LockPath(ctx, "p")
	require.NoError(t, err)
	require.NoError(t, l.Unlock(ctx))
	err = c.UpdateIfLocked(ctx, "k", nil, false, l)
	require.True(t, err == kvstore.ErrLockLeaseExpired, "the sentinel itself, as the reference returns it: %v", err)

	// A new lock on the same path is a new fence: the old locker stays
	// invalid even though the key has the same name.
	l2, err := c.LockPath(ctx, "p")
	require.NoError(t, err)
	require.ErrorIs(t, c.UpdateIfLocked(ctx, "k", nil, false, l), kvstore.ErrLockLeaseExpired)
	require.NoError(t, c.UpdateIfLocked(ctx, "k", nil, false, l2))
	require.NoError(t, l2.Unlock(ctx))
}

type foreignLocker struct{}

func (foreignLocker) Unlock(context.Context) error { return nil }
func (foreignLocker) Comparator() any              { return "not a fence" }

func TestMemoryForeignLocker(t *testing.T) {
	c := newTestClient(t, NewStore(), nil)
	other := newTestClient(t, NewStore(), nil)
	ctx := testCtx(t)
	otherLock, err := other.LockPath(ctx, "p")
	require.NoError(t, err)
	defer func() { require.NoError(t, otherLock.Unlock(ctx)) }()

	for name, l := range map[string]kvstore.KVLocker{
		"other type":  foreignLocker{},
		"other store": otherLock,
		"nil":         nil,
	} {
		err := c.UpdateIfLocked(ctx, "k", nil, false, l)
		require.ErrorIs(t, err, kvstore.ErrForeignLocker, name)
		require.True(t, strings.HasPrefix(err.Error(), `kvstore: update-if-locked "k": `), err.Error())
		_, err = c.ListPrefixIfLocked(ctx, "", l)
		require.ErrorIs(t, err, kvstore.ErrForeignLocker, name)
	}
	v, err := c.Get(ctx, "k")
	require.NoError(t, err)
	require.Nil(t, v)
}

// A contender whose lock lease is revoked while it waits gives up at once,
// leaving nothing behind.
func TestMemoryLockLeaseRevokedWhileWaiting(t *testing.T) {
	s := NewStore()
	a, b := newTestClient(t, s, nil), newTestClient(t, s, nil)
	ctx := testCtx(t)
	la, err := a.LockPath(ctx, "p")
	require.NoError(t, err)
	ch := lockAsync(ctx, b, "p")
	waitContenders(t, a, "p", 2)

	require.True(t, s.RevokeLease(mustLease(t, b.lockLeases, "p")))
	r := <-ch
	require.ErrorIs(t, r.err, errLockKeyGone)
	require.Zero(t, b.locks.Held())
	require.Len(t, lockKeys(t, a, "p"), 1)

	// b can lock again, on a fresh lock lease, once a lets go.
	ch = lockAsync(ctx, b, "p")
	waitContenders(t, a, "p", 2)
	require.NoError(t, la.Unlock(ctx))
	require.NoError(t, requireLocked(t, ch).Unlock(ctx))
}
