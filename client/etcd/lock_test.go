package etcd_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/client/etcd"
	"github.com/hivekv/kvstore/hivetest"
)

// lockTestClient returns a connected etcd client of srv with a short lock
// lease and a rate limit that does not slow the test down. It is closed
// when the test ends.
func lockTestClient(tb testing.TB, srv *hivetest.Server, lockTTL time.Duration) kvstore.BackendOperations {
	tb.Helper()
	extra := &kvstore.ExtraOptions{
		LockLeaseTTL:        lockTTL,
		ConnectivityTimeout: 30 * time.Second,
		NoLockQuorumCheck:   true,
		DialOption:          hivetest.FastReconnectDialOptions(),
	}
	b, errCh := etcd.New(context.Background(), map[string]string{kvstore.EtcdAddrOption: srv.Endpoint(), kvstore.EtcdRateLimitOption: "1000"}, extra)
	require.NotNil(tb, b, "NewClient: %v", <-errCh)
	tb.Cleanup(b.Close)
	require.NoError(tb, <-errCh)
	return b
}

func lockCtx(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// lockKeys returns the keys under the lock prefix of path.
func lockKeys(tb testing.TB, raw *clientv3.Client, path string) []string {
	tb.Helper()
	resp, err := raw.Get(lockCtx(tb, 10*time.Second), path+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	require.NoError(tb, err)
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, string(kv.Key))
	}
	return keys
}

// TestLockKeyLayout checks the key LockPath creates: path/<lease hex>,
// attached to that lease, as etcd's concurrency.Mutex names its keys.
func TestLockKeyLayout(t *testing.T) {
	srv := hivetest.SharedServer(t)
	b := lockTestClient(t, srv, 0)
	raw := srv.Client(t)
	path := hivetest.UniquePrefix(t) + "layout"

	l, err := b.LockPath(lockCtx(t, 30*time.Second), path)
	require.NoError(t, err)
	resp, err := raw.Get(lockCtx(t, 10*time.Second), path+"/", clientv3.WithPrefix())
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	kv := resp.Kvs[0]
	require.NotZero(t, kv.Lease)
	require.Equal(t, fmt.Sprintf("%s/%x", path, kv.Lease), string(kv.Key))
	cmp, ok := l.Comparator().(clientv3.Cmp)
	require.True(t, ok, "comparator is %T", l.Comparator())
	require.Equal(t, string(kv.Key), string(cmp.KeyBytes()))

	require.NoError(t, l.Unlock(lockCtx(t, 10*time.Second)))
	require.Empty(t, lockKeys(t, raw, path))
	require.NoError(t, l.Unlock(lockCtx(t, 10*time.Second)), "a second Unlock is a no-op")
}

// TestLockInteropWithConcurrencyMutex: a lock taken with etcd's own Mutex on
// the same prefix excludes ours, and ours excludes it.
func TestLockInteropWithConcurrencyMutex(t *testing.T) {
	srv := hivetest.SharedServer(t)
	b := lockTestClient(t, srv, 0)
	raw := srv.Client(t)
	path := hivetest.UniquePrefix(t) + "interop"

	session, err := concurrency.NewSession(raw, concurrency.WithTTL(10))
	require.NoError(t, err)
	t.Cleanup(func() { _ = session.Close() })
	mutex := concurrency.NewMutex(session, path)

	// Mutex first: ours must wait, and give up when its ctx ends, leaving
	// only the mutex's key.
	require.NoError(t, mutex.Lock(lockCtx(t, 10*time.Second)))
	_, err = b.LockPath(lockCtx(t, 300*time.Millisecond), path)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, kvstore.ErrClientTimeout)
	require.Equal(t, []string{mutex.Key()}, lockKeys(t, raw, path))
	require.Zero(t, etcd.LocalLocksHeld(b))

	// A waiting LockPath gets the lock once the mutex is released.
	got := make(chan kvstore.KVLocker, 1)
	go func() {
		l, err := b.LockPath(lockCtx(t, 30*time.Second), path)
		if err != nil {
			t.Errorf("LockPath: %v", err)
		}
		got <- l
	}()
	require.Eventually(t, func() bool { return len(lockKeys(t, raw, path)) == 2 }, 10*time.Second, 10*time.Millisecond,
		"our waiter queues behind the mutex")
	require.NoError(t, mutex.Unlock(lockCtx(t, 10*time.Second)))
	ours := <-got
	require.NotNil(t, ours)

	// Ours first: the mutex must wait.
	err = mutex.Lock(lockCtx(t, 300*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	locked := make(chan error, 1)
	go func() { locked <- mutex.Lock(lockCtx(t, 30*time.Second)) }()
	require.NoError(t, ours.Unlock(lockCtx(t, 10*time.Second)))
	require.NoError(t, <-locked)

	// The mutex's fence and ours are the same kind of comparison.
	resp, err := raw.Txn(lockCtx(t, 10*time.Second)).If(mutex.IsOwner()).Commit()
	require.NoError(t, err)
	require.True(t, resp.Succeeded)
	require.NoError(t, mutex.Unlock(lockCtx(t, 10*time.Second)))
}

// TestLockUnlockWhileServerStopped: Unlock reports the failure, releases
// the local lock at once, and the key does not block anyone for good.
func TestLockUnlockWhileServerStopped(t *testing.T) {
	srv := hivetest.StartServer(t)
	const lockTTL = 3 * time.Second
	b := lockTestClient(t, srv, lockTTL)
	other := lockTestClient(t, srv, lockTTL)
	path := hivetest.UniquePrefix(t) + "stopped"

	l, err := b.LockPath(lockCtx(t, 30*time.Second), path)
	require.NoError(t, err)
	require.Equal(t, 1, etcd.LocalLocksHeld(b))

	require.NoError(t, srv.Stop())
	err = l.Unlock(lockCtx(t, 500*time.Millisecond))
	require.Error(t, err)
	require.Zero(t, etcd.LocalLocksHeld(b), "the local lock is released even though the key could not be deleted")
	require.NoError(t, l.Unlock(lockCtx(t, time.Second)), "Unlock stays idempotent")

	require.NoError(t, srv.Restart(lockCtx(t, 30*time.Second)))
	// Either the background delete or the lease expiry removes the key;
	// then another client gets the lock.
	l2, err := other.LockPath(lockCtx(t, 30*time.Second), path)
	require.NoError(t, err)
	require.NoError(t, l2.Unlock(lockCtx(t, 10*time.Second)))

	// The first client recovers as well.
	l3, err := b.LockPath(lockCtx(t, 30*time.Second), path)
	require.NoError(t, err)
	require.NoError(t, l3.Unlock(lockCtx(t, 10*time.Second)))
}

// TestLockKeyDeletedAfterShortOutage: when Unlock fails during an outage
// shorter than the lock lease, the lease survives (this client keeps it
// alive), so the key must be deleted once the server is back.
func TestLockKeyDeletedAfterShortOutage(t *testing.T) {
	srv := hivetest.StartServer(t)
	b := lockTestClient(t, srv, 0) // 25 s lease: it outlives the outage
	path := hivetest.UniquePrefix(t) + "outage"

	l, err := b.LockPath(lockCtx(t, 30*time.Second), path)
	require.NoError(t, err)
	require.NoError(t, srv.Stop())
	require.Error(t, l.Unlock(lockCtx(t, 300*time.Millisecond)))
	require.NoError(t, srv.Restart(lockCtx(t, 30*time.Second)))

	raw := srv.Client(t)
	require.Eventually(t, func() bool { return len(lockKeys(t, raw, path)) == 0 }, 20*time.Second, 50*time.Millisecond,
		"the key is deleted in the background once the server answers")
}

// TestLockGCReleasesLeakedLocalLock: the GC frees a leaked local lock; the
// next owner gets a key of its own, and the old owner's late Unlock frees
// neither the local lock nor the key of the new one.
func TestLockGCReleasesLeakedLocalLock(t *testing.T) {
	srv := hivetest.SharedServer(t)
	b := lockTestClient(t, srv, 0)
	other := lockTestClient(t, srv, 0)
	raw := srv.Client(t)
	prefix := hivetest.UniquePrefix(t)
	path := prefix + "leaked"

	leaked, err := b.LockPath(lockCtx(t, 30*time.Second), path)
	require.NoError(t, err)

	// Age only this client's locks, so that locks of tests running in
	// parallel are not collected.
	etcd.SetLocalLockClock(b, func() time.Time { return time.Now().Add(time.Hour) })
	log, hook := logtest.NewNullLogger()
	released := client.RunLockGCWithTimeout(time.Minute, log)
	var paths []string
	for _, s := range released {
		paths = append(paths, s.Path)
	}
	require.Contains(t, paths, path)
	var logged bool
	for _, e := range hook.AllEntries() {
		if e.Data["path"] == path {
			logged = true
			require.Equal(t, logrus.ErrorLevel, e.Level)
			require.GreaterOrEqual(t, e.Data["age"], time.Hour)
		}
	}
	require.True(t, logged, "the release is logged with path and age")
	etcd.SetLocalLockClock(b, time.Now)
	require.Zero(t, etcd.LocalLocksHeld(b))

	fresh, err := b.LockPath(lockCtx(t, 30*time.Second), path)
	require.NoError(t, err)
	require.NotEqual(t, leaked.Comparator(), fresh.Comparator(), "the new owner has a fence of its own")
	require.ErrorIs(t, b.UpdateIfLocked(lockCtx(t, 10*time.Second), prefix+"data", []byte("old"), false, leaked),
		kvstore.ErrLockLeaseExpired, "the collected owner is fenced out")

	require.NoError(t, leaked.Unlock(lockCtx(t, 10*time.Second)), "a late Unlock is harmless")
	require.Equal(t, 1, etcd.LocalLocksHeld(b), "the late Unlock did not free the new owner's local lock")
	require.Len(t, lockKeys(t, raw, path), 1, "nor its key")
	require.NoError(t, b.UpdateIfLocked(lockCtx(t, 10*time.Second), prefix+"data", []byte("new"), false, fresh))
	_, err = b.LockPath(lockCtx(t, 200*time.Millisecond), path)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the path is still held locally")
	_, err = other.LockPath(lockCtx(t, 200*time.Millisecond), path)
	require.ErrorIs(t, err, context.DeadlineExceeded, "and in etcd")

	require.NoError(t, fresh.Unlock(lockCtx(t, 10*time.Second)))
	require.Empty(t, lockKeys(t, raw, path))
}

// TestLockCloseInterruptsWaiter: Close ends a waiting LockPath with
// ErrClientClosed instead of letting it wait out its timeout.
func TestLockCloseInterruptsWaiter(t *testing.T) {
	srv := hivetest.SharedServer(t)
	holder := lockTestClient(t, srv, 0)
	waiter := lockTestClient(t, srv, 0)
	raw := srv.Client(t)
	path := hivetest.UniquePrefix(t) + "close"

	l, err := holder.LockPath(lockCtx(t, 30*time.Second), path)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := waiter.LockPath(context.Background(), path)
		done <- err
	}()
	require.Eventually(t, func() bool { return len(lockKeys(t, raw, path)) == 2 }, 10*time.Second, 10*time.Millisecond)
	waiter.Close()
	require.ErrorIs(t, <-done, kvstore.ErrClientClosed)
	require.NoError(t, l.Unlock(lockCtx(t, 10*time.Second)))
}

// TestLockTimeoutCapsAcquisition: the LockPath cap applies even when the
// caller's ctx has no deadline, and the error says the client timed out.
func TestLockTimeoutCapsAcquisition(t *testing.T) {
	srv := hivetest.SharedServer(t)
	holder := lockTestClient(t, srv, 0)
	waiter := lockTestClient(t, srv, 0)
	raw := srv.Client(t)
	path := hivetest.UniquePrefix(t) + "cap"

	l, err := holder.LockPath(lockCtx(t, 30*time.Second), path)
	require.NoError(t, err)
	etcd.SetLockTimeoutForTest(t, 300*time.Millisecond)
	_, err = waiter.LockPath(context.Background(), path)
	require.ErrorIs(t, err, kvstore.ErrClientTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, strings.Contains(err.Error(), path), "error names the path: %v", err)
	require.True(t, strings.Contains(err.Error(), "gave up after 300ms"), "error names the cap: %v", err)
	t.Log(err)
	require.Len(t, lockKeys(t, raw, path), 1, "the waiter removed its key")
	require.NoError(t, l.Unlock(lockCtx(t, 10*time.Second)))
}

// TestLockedWriteRenewsLostDataLease: a fenced write whose data lease
// vanished on the server is retried once on a fresh lease.
func TestLockedWriteRenewsLostDataLease(t *testing.T) {
	srv := hivetest.SharedServer(t)
	b := lockTestClient(t, srv, 0)
	raw := srv.Client(t)
	prefix := hivetest.UniquePrefix(t)
	ctx := lockCtx(t, 30*time.Second)

	require.NoError(t, b.Update(ctx, prefix+"first", []byte("v"), true))
	pairs, err := b.ListPrefix(ctx, prefix+"first")
	require.NoError(t, err)
	lease := pairs[prefix+"first"].LeaseID
	require.NotZero(t, lease)
	_, err = raw.Revoke(ctx, clientv3.LeaseID(lease))
	require.NoError(t, err)

	l, err := b.LockPath(ctx, prefix+"lock")
	require.NoError(t, err)
	defer func() { require.NoError(t, l.Unlock(lockCtx(t, 10*time.Second))) }()
	require.NoError(t, b.UpdateIfLocked(ctx, prefix+"second", []byte("v"), true, l))
	pairs, err = b.ListPrefix(ctx, prefix+"second")
	require.NoError(t, err)
	require.NotZero(t, pairs[prefix+"second"].LeaseID)
	require.NotEqual(t, lease, pairs[prefix+"second"].LeaseID)

	written, err := b.UpdateIfDifferentIfLocked(ctx, prefix+"second", []byte("v"), true, l)
	require.NoError(t, err)
	require.False(t, written, "same value on the same lease")
	written, err = b.UpdateIfDifferentIfLocked(ctx, prefix+"second", []byte("w"), true, l)
	require.NoError(t, err)
	require.True(t, written)
	written, err = b.UpdateIfDifferentIfLocked(ctx, prefix+"second", []byte("w"), false, l)
	require.NoError(t, err)
	require.True(t, written, "detaching the lease is a change")
}
