package kvstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/memory"
)

// The stale-lock rule on the in-memory backend: a holder seen unchanged by
// two sweeps at least minAge apart is deleted; the waiter behind it, a lock
// taken again in between and keys that are not lock keys are not.
func TestSweepStaleLocks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store := memory.NewStore()
	owner, other := store.NewClient(nil), store.NewClient(nil)
	t.Cleanup(owner.Close)
	t.Cleanup(other.Close)

	stuck, err := owner.LockPath(ctx, "locks/stuck")
	require.NoError(t, err)
	retaken, err := owner.LockPath(ctx, "locks/retaken")
	require.NoError(t, err)
	require.NoError(t, owner.Update(ctx, "locks/not-a-lock", []byte("x"), true))

	// A waiter queues behind the stuck holder.
	waited := make(chan error, 1)
	go func() {
		l, err := other.LockPath(ctx, "locks/stuck")
		if err == nil {
			err = l.Unlock(ctx)
		}
		waited <- err
	}()

	t0 := time.Now()
	marks, swept, err := kvstore.SweepStaleLocks(ctx, owner, "locks/", nil, time.Minute, t0)
	require.NoError(t, err)
	require.Empty(t, swept, "the first sighting only marks")
	require.Len(t, marks, 2, "one holder per lock path")

	require.NoError(t, retaken.Unlock(ctx))
	retaken, err = owner.LockPath(ctx, "locks/retaken")
	require.NoError(t, err)
	defer func() { _ = retaken.Unlock(ctx) }()

	marks, swept, err = kvstore.SweepStaleLocks(ctx, owner, "locks/", marks, time.Minute, t0.Add(time.Second))
	require.NoError(t, err)
	require.Empty(t, swept, "seen unchanged, but not minAge apart yet")

	_, swept, err = kvstore.SweepStaleLocks(ctx, owner, "locks/", marks, time.Minute, t0.Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, swept, 1)
	require.Equal(t, "locks/stuck", swept[0].Path)
	require.Equal(t, time.Minute, swept[0].Age)
	require.NoError(t, <-waited, "the waiter got the lock once the stale holder was gone")
	require.NoError(t, stuck.Unlock(ctx), "unlocking a swept lock is harmless")

	pairs, err := owner.ListPrefix(ctx, "locks/")
	require.NoError(t, err)
	require.Contains(t, pairs, "locks/not-a-lock", "keys that are not lock keys are left alone")
}

func TestNewLockSweeperRefusesBadInput(t *testing.T) {
	c := memory.NewStore().NewClient(nil)
	t.Cleanup(c.Close)
	_, err := kvstore.NewLockSweeper(nil, []string{"locks/"}, time.Minute, nil)
	require.ErrorIs(t, err, kvstore.ErrInvalidConfig)
	_, err = kvstore.NewLockSweeper(c, []string{" "}, time.Minute, nil)
	require.ErrorIs(t, err, kvstore.ErrInvalidConfig)
	_, err = kvstore.NewLockSweeper(c, []string{"locks/"}, 0, nil)
	require.ErrorIs(t, err, kvstore.ErrInvalidConfig)
}
