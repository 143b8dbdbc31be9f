package memory

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

// shortTTL keeps expiry tests fast: the in-memory backend honours any TTL,
// where etcd rounds to whole seconds.
const shortTTL = 50 * time.Millisecond

func TestMemoryLeaseExpiresAfterClose(t *testing.T) {
	s := NewStore()
	owner := newTestClient(t, s, &kvstore.ExtraOptions{LeaseTTL: shortTTL, LockLeaseTTL: shortTTL})
	other := newTestClient(t, s, nil)
	ctx := testCtx(t)

	require.NoError(t, owner.Update(ctx, "p/leased", []byte("v"), true))
	require.NoError(t, owner.Update(ctx, "p/plain", []byte("v"), false))
	lock, err := owner.LockPath(ctx, "locks/x")
	require.NoError(t, err)
	w := other.ListAndWatch(ctx, "p/", 10)
	requireEvents(t, w, create("p/leased", "v"), create("p/plain", "v"), listDone)

	// Leases live while the client does, however long that is.
	owner.store.mu.Lock()
	for _, l := range owner.store.leases {
		require.Nil(t, l.timer, "no expiry while the owner lives")
	}
	owner.store.mu.Unlock()

	owner.Close()
	// The keys go one TTL later, with Delete events like any delete.
	requireEvents(t, w, deleted("p/leased"))
	pairs, err := other.ListPrefix(ctx, "")
	require.NoError(t, err)
	require.Contains(t, pairs, "p/plain")
	require.Eventually(t, func() bool {
		pairs, err := other.ListPrefix(ctx, "locks/")
		return err == nil && len(pairs) == 0
	}, testTimeout, time.Millisecond, "the lock key expires with the lock lease")
	// Only the session lease of the other client is left.
	require.Eventually(t, func() bool { return s.leaseCount() == 1 }, testTimeout, time.Millisecond)

	// The lock of the closed client still unlocks its local half.
	require.ErrorIs(t, lock.Unlock(ctx), kvstore.ErrClientClosed)
	require.Zero(t, owner.locks.Held())
}

func (s *Store) leaseCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.leases)
}

func TestMemoryRevokeLease(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	ctx := testCtx(t)
	lost := make(chan string, 10)
	c.RegisterLeaseExpiredObserver("p/", func(k string) { lost <- k })

	require.NoError(t, c.Update(ctx, "p/a", []byte("v"), true))
	require.NoError(t, c.Update(ctx, "p/b", []byte("v"), true))
	pairs, err := c.ListPrefix(ctx, "p/")
	require.NoError(t, err)
	id := pairs["p/a"].LeaseID
	require.Equal(t, []string{"p/a", "p/b"}, s.LeaseKeys(id))

	require.True(t, s.RevokeLease(id))
	require.False(t, s.RevokeLease(id), "gone already")
	require.Nil(t, s.LeaseKeys(id))
	require.Zero(t, s.Len())
	got := []string{<-lost, <-lost}
	require.ElementsMatch(t, []string{"p/a", "p/b"}, got)
	require.Eventually(t, func() bool { return c.leases.TotalLeases() == 0 }, testTimeout, time.Millisecond)

	require.NoError(t, c.Update(ctx, "p/a", []byte("v"), true))
	pairs, err = c.ListPrefix(ctx, "p/")
	require.NoError(t, err)
	require.NotZero(t, pairs["p/a"].LeaseID)
	require.NotEqual(t, id, pairs["p/a"].LeaseID)
}

// A leased write that races with the revoke of its lease is retried once on
// a fresh lease, whichever of the write and the client's notification comes
// first; as on etcd, one revoke never fails a write.
func TestMemoryRevokeRacingWrites(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	ctx := testCtx(t)
	for i := range 200 {
		require.NoError(t, c.Update(ctx, "k", []byte("v"), true))
		id, err := c.leases.GetLeaseID("k")
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Go(func() { s.RevokeLease(id) })
		require.NoError(t, c.Update(ctx, "k", []byte("v"), true), "write %d", i)
		wg.Wait()
	}
}

func TestMemoryLeaseOperationsAfterClose(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	c.Close()
	before := s.leaseCount() // the session lease, until its TTL runs out
	_, err := c.leases.GetLeaseID("k")
	require.ErrorIs(t, err, kvstore.ErrClientClosed, "a closed client grants no lease that would never expire")
	_, err = c.lockLeases.GetLeaseID("lock")
	require.ErrorIs(t, err, kvstore.ErrClientClosed)
	require.Equal(t, before, s.leaseCount())
	require.Zero(t, c.leases.TotalLeases()+c.lockLeases.TotalLeases())
}
