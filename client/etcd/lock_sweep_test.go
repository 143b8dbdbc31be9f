package etcd_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/etcd"
	"github.com/hivekv/kvstore/hivetest"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// clockedSweeper sweeps at the times of its clock.
type clockedSweeper struct {
	s     *etcd.LockSweeper
	clock *fakeClock
}

func (c clockedSweeper) Sweep(ctx context.Context) ([]etcd.SweptLock, error) {
	return c.s.SweepAt(ctx, c.clock.Now())
}

func newTestSweeper(t *testing.T, b kvstore.BackendOperations, prefix string, minAge time.Duration) (clockedSweeper, *fakeClock, *logtest.Hook) {
	t.Helper()
	log, hook := logtest.NewNullLogger()
	s, err := etcd.NewLockSweeper(b, []string{prefix}, minAge, log)
	require.NoError(t, err)
	clock := &fakeClock{now: time.Now()}
	return clockedSweeper{s: s, clock: clock}, clock, hook
}

// TestLockSweepStrayKeepalive: a lock whose holder vanished without
// unlocking while something keeps its lease alive is deleted after two
// sweeps, and the next waiter gets the lock.
func TestLockSweepStrayKeepalive(t *testing.T) {
	srv := hivetest.SharedServer(t)
	b := lockTestClient(t, srv, 0)
	raw := srv.Client(t)
	prefix := hivetest.UniquePrefix(t)
	path := prefix + "locks/stuck"

	// The vanished holder: a raw session whose keepalive runs on, locked
	// with etcd's own mutex and never unlocked.
	session, err := concurrency.NewSession(raw, concurrency.WithTTL(5))
	require.NoError(t, err)
	t.Cleanup(func() { _ = session.Close() })
	stuck := concurrency.NewMutex(session, path)
	require.NoError(t, stuck.Lock(lockCtx(t, 10*time.Second)))

	// A waiter of ours queues behind it.
	got := make(chan error, 1)
	var waiter kvstore.KVLocker
	go func() {
		var err error
		waiter, err = b.LockPath(lockCtx(t, 30*time.Second), path)
		got <- err
	}()
	require.Eventually(t, func() bool { return len(lockKeys(t, raw, path)) == 2 }, 10*time.Second, 10*time.Millisecond)

	const minAge = time.Minute
	sweeper, clock, hook := newTestSweeper(t, b, prefix, minAge)
	removed, err := sweeper.Sweep(lockCtx(t, 10*time.Second))
	require.NoError(t, err)
	require.Empty(t, removed, "the first sweep only marks")

	clock.Advance(minAge - time.Second)
	removed, err = sweeper.Sweep(lockCtx(t, 10*time.Second))
	require.NoError(t, err)
	require.Empty(t, removed, "too young")

	clock.Advance(time.Second)
	removed, err = sweeper.Sweep(lockCtx(t, 10*time.Second))
	require.NoError(t, err)
	require.Len(t, removed, 1, "only the holder is swept, not the waiter behind it")
	require.Equal(t, stuck.Key(), removed[0].Key)
	require.Equal(t, path, removed[0].Path)
	require.Equal(t, int64(session.Lease()), removed[0].Lease)
	require.Equal(t, minAge, removed[0].Age)

	entry := hook.LastEntry()
	require.NotNil(t, entry)
	require.Equal(t, logrus.WarnLevel, entry.Level)
	require.Equal(t, path, entry.Data["path"])
	require.Equal(t, minAge, entry.Data["age"])

	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not get the swept lock")
	}
	require.NoError(t, b.UpdateIfLocked(lockCtx(t, 10*time.Second), prefix+"data", []byte("v"), false, waiter))

	// The new holder was never seen unchanged across two sweeps.
	removed, err = sweeper.Sweep(lockCtx(t, 10*time.Second))
	require.NoError(t, err)
	require.Empty(t, removed)
	require.NoError(t, waiter.Unlock(lockCtx(t, 10*time.Second)))
}

// TestLockSweepSparesRetakenLocks: a path whose lock is released and taken
// again between sweeps has a new key each time (same name, new create
// revision) and is never swept; keys that are not lock keys are ignored.
func TestLockSweepSparesRetakenLocks(t *testing.T) {
	srv := hivetest.SharedServer(t)
	b := lockTestClient(t, srv, 0)
	raw := srv.Client(t)
	prefix := hivetest.UniquePrefix(t)
	path := prefix + "locks/busy"
	ctx := lockCtx(t, 30*time.Second)

	// Not lock keys: no lease, and a lease with a suffix that is not its id.
	require.NoError(t, b.Update(ctx, prefix+"locks/plain/abc", []byte("x"), false))
	grant, err := raw.Grant(ctx, 60)
	require.NoError(t, err)
	_, err = raw.Put(ctx, prefix+"locks/leased/not-a-lease-id", "x", clientv3.WithLease(grant.ID))
	require.NoError(t, err)

	const minAge = time.Minute
	sweeper, clock, _ := newTestSweeper(t, b, prefix, minAge)
	l, err := b.LockPath(ctx, path)
	require.NoError(t, err)
	for range 3 {
		removed, err := sweeper.Sweep(ctx)
		require.NoError(t, err)
		require.Empty(t, removed)
		require.NoError(t, l.Unlock(ctx))
		l, err = b.LockPath(ctx, path)
		require.NoError(t, err)
		clock.Advance(2 * minAge)
	}
	removed, err := sweeper.Sweep(ctx)
	require.NoError(t, err)
	require.Empty(t, removed, "re-taken since the last sweep")
	require.NoError(t, b.UpdateIfLocked(ctx, prefix+"data", []byte("v"), false, l), "our lock survived every sweep")

	// Held unchanged across two sweeps: now it goes, and the fence shows it.
	clock.Advance(minAge)
	removed, err = sweeper.Sweep(ctx)
	require.NoError(t, err)
	require.Len(t, removed, 1)
	require.ErrorIs(t, b.UpdateIfLocked(ctx, prefix+"data", []byte("v"), false, l), kvstore.ErrLockLeaseExpired)
	require.NoError(t, l.Unlock(ctx))

	pairs, err := b.ListPrefix(ctx, prefix+"locks/")
	require.NoError(t, err)
	require.Len(t, pairs, 2, "keys that are not lock keys are left alone")
}

func TestLockSweeperNeedsPrefixes(t *testing.T) {
	_, err := etcd.NewLockSweeper(nil, []string{"locks/"}, time.Minute, nil)
	require.ErrorIs(t, err, kvstore.ErrInvalidConfig)

	e := lockTestClient(t, hivetest.SharedServer(t), 0)
	_, err = etcd.NewLockSweeper(e, []string{" "}, time.Minute, nil)
	require.ErrorIs(t, err, kvstore.ErrInvalidConfig)
	_, err = etcd.NewLockSweeper(e, []string{"locks/"}, 0, nil)
	require.ErrorIs(t, err, kvstore.ErrInvalidConfig)
}
