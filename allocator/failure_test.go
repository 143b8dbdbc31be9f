package allocator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
)

// total sums the counted requests.
func total(calls map[string]int) int {
	n := 0
	for _, v := range calls {
		n += v
	}
	return n
}

// Issue 23.3: an error that cannot succeed is not retried. A closed client
// fails the call at once.
func TestAllocateOnClosedClientFailsAtOnce(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		for _, txn := range []bool{true, false} {
			c := newCounting(k.newCli(t), txn)
			a := newAllocator(t, wrap(c), basePath(t), "n")
			c.BackendOperations.Close()
			c.take()
			_, _, _, err := a.Allocate(testCtx(t), "k;")
			require.ErrorIs(t, err, kvstore.ErrClientClosed)
			require.LessOrEqual(t, total(c.take()), 2, "one attempt (and its read-back), no retries")
		}
	})
}

// Issue 23.3: a key too large for the one-transaction create takes the lock
// protocol, whose requests are smaller, instead of retrying the refused
// transaction; a key too large for any request fails at once.
func TestOversizedKeys(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		c := newCounting(k.newCli(t), true)
		a := newAllocator(t, wrap(c), base, "n")
		// About 300 KiB: the create transaction names the key about seven
		// times (over the 1.5 MiB request limit), each lock protocol request
		// at most four times.
		big := strings.Repeat("x", 300<<10) + ";"
		c.take()
		id, isNew, _, err := a.Allocate(ctx, big)
		if err != nil {
			t.Fatal(strings.ReplaceAll(err.Error(), big, "<big key>"))
		}
		require.True(t, isNew)
		calls := c.take()
		require.Equal(t, 1, calls["Txn"], "the refused create is not retried: %v", calls)
		require.Equal(t, 1, calls["LockPath"], "%v", calls)
		got, err := a.GetNoCache(ctx, big)
		require.NoError(t, err)
		require.Equal(t, id, got)

		huge := strings.Repeat("y", 2<<20) + ";"
		_, _, _, err = a.Allocate(ctx, huge)
		require.True(t, kvstore.RefusedBeforeSending(err), "got %v", err)
		require.LessOrEqual(t, total(c.take()), 3, "refused before sending, not retried")
	})
}

// seedMaster writes the master key of id with value v directly.
func seedMaster(t *testing.T, c kvstore.BackendOperations, base string, id allocator.ID, v string) {
	t.Helper()
	require.NoError(t, c.Update(testCtx(t), base+"/id/"+id.String(), []byte(v), false))
}

// Issue 23.4: a master key with an empty or another key's value takes its
// ID: with a one-ID range the call fails at once with the exhaustion error.
func TestMasterKeyWithEmptyOrForeignValueIsTaken(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		for _, txn := range []bool{true, false} {
			for _, v := range []string{"", "other;"} {
				ctx := testCtx(t)
				base := basePath(t)
				cli := k.newCli(t)
				seedMaster(t, cli, base, 1, v)
				c := newCounting(cli, txn)
				a := newAllocator(t, wrap(c), base, "n", allocator.WithMin(1), allocator.WithMax(1))
				_, _, _, err := a.Allocate(ctx, "k;")
				require.ErrorIs(t, err, allocator.ErrRangeExhausted, "txn=%v value %q", txn, v)
				require.Equal(t, map[string]string{base + "/id/1": v}, listStrings(t, cli, base+"/"))
			}
		}
	})
}

// Issue 23.5: an Allocate waiting for the key's lock when Close is called
// returns before Close does, and writes nothing afterwards.
func TestNoWritesAfterClose(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		other := k.newCli(t)
		held, err := other.LockPath(ctx, base+"/locks/k;")
		require.NoError(t, err)
		c := newCounting(k.newCli(t), true)
		a := newAllocator(t, wrap(c), base, "n")
		done := make(chan error, 1)
		go func() {
			_, _, _, err := a.Allocate(ctx, "k;")
			done <- err
		}()
		require.Eventually(t, func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.calls["LockPath"] == 1
		}, testTimeout, millis(5), "the Allocate waits for the lock")
		a.Close()
		select {
		case err := <-done:
			require.ErrorIs(t, err, allocator.ErrClosed)
		default:
			t.Fatal("Close returned while an Allocate was still running")
		}
		require.NoError(t, held.Unlock(ctx))
		require.Empty(t, listStrings(t, other, base+"/id/"))
		require.Empty(t, listStrings(t, other, base+"/value/"))
		// Every call that could write fails after Close.
		_, err = a.Release(ctx, "k;")
		require.ErrorIs(t, err, allocator.ErrClosed)
		_, _, err = a.RunGC(ctx, nil, nil)
		require.ErrorIs(t, err, allocator.ErrClosed)
		_, err = a.RunLocksGC(ctx, nil)
		require.ErrorIs(t, err, allocator.ErrClosed)
	})
}

// Issue 23.6: Release (and Allocate) with a ctx that is already done return
// its error and change nothing, every time.
func TestDoneCtxChangesNothing(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		c := k.newCli(t)
		a := newAllocator(t, c, base, "n")
		id, _, _, err := a.Allocate(ctx, "k;")
		require.NoError(t, err)
		done, cancel := context.WithCancel(ctx)
		cancel()
		for range 100 {
			_, err := a.Release(done, "k;")
			require.ErrorIs(t, err, context.Canceled)
			_, _, _, err = a.Allocate(done, "k;")
			require.ErrorIs(t, err, context.Canceled)
		}
		got, err := a.Get(ctx, "k;")
		require.NoError(t, err)
		require.Equal(t, id, got)
		last, err := a.Release(ctx, "k;")
		require.NoError(t, err)
		require.True(t, last, "one reference, kept by every call with a done ctx")
	})
}

// frozenCache is a Backend whose watch stops after the initial list: the
// Allocator's cache lags the store for good, as it may for a few ms.
type frozenCache struct {
	allocator.Backend
	release chan struct{} // closed: the initial list may complete
}

func (f frozenCache) ListAndWatch(ctx context.Context, h allocator.CacheMutations) {
	f.Backend.ListAndWatch(ctx, &frozenHandler{h: h, release: f.release})
}

type frozenHandler struct {
	h       allocator.CacheMutations
	release chan struct{}
	frozen  bool // only the watch goroutine touches it
}

func (f *frozenHandler) OnListDone() {
	if f.frozen {
		return
	}
	if f.release != nil {
		<-f.release
	}
	f.frozen = true
	f.h.OnListDone()
}

func (f *frozenHandler) OnUpsert(id allocator.ID, key string) {
	if !f.frozen {
		f.h.OnUpsert(id, key)
	}
}

func (f *frozenHandler) OnDelete(id allocator.ID, key string) {
	if !f.frozen {
		f.h.OnDelete(id, key)
	}
}

// Issue 23.8: a key released and allocated again right away gets its own
// unused master key back, decided from the store under the lock, whatever
// the cache knows: with a full range, and with a wide one.
func TestReallocateRightAwayReusesOwnID(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		for _, max := range []allocator.ID{1, 100000} {
			ctx := testCtx(t)
			base := basePath(t)
			c := k.newCli(t)
			a, err := allocator.NewAllocator(frozenCache{Backend: newBackend(t, c, base, "n")},
				allocator.WithMin(1), allocator.WithMax(max), allocator.WithReleaseDelay(0))
			require.NoError(t, err)
			t.Cleanup(a.Close)
			first, _, _, err := a.Allocate(ctx, "k;")
			require.NoError(t, err)
			for range 5 {
				_, err = a.Release(ctx, "k;")
				require.NoError(t, err)
				id, isNew, _, err := a.Allocate(ctx, "k;")
				require.NoError(t, err, "max %d", max)
				require.Equal(t, first, id, "max %d", max)
				require.False(t, isNew)
			}
			require.Len(t, listStrings(t, c, base+"/id/"), 1)
		}
	})
}

// Issue 23.13: Allocate waits for the initial list of master keys (it would
// otherwise pick IDs the cache does not know yet).
func TestAllocateWaitsForInitialList(t *testing.T) {
	ctx := testCtx(t)
	base := basePath(t)
	c := memKit().newCli(t)
	release := make(chan struct{})
	a, err := allocator.NewAllocator(frozenCache{Backend: newBackend(t, c, base, "n"), release: release},
		allocator.WithMin(1), allocator.WithMax(10))
	require.NoError(t, err)
	t.Cleanup(a.Close)
	short, cancel := context.WithTimeout(ctx, millis(50))
	defer cancel()
	_, _, _, err = a.Allocate(short, "k;")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "initial list")
	require.Empty(t, listStrings(t, c, base+"/"), "nothing written before the list")
	close(release)
	_, _, _, err = a.Allocate(ctx, "k;")
	require.NoError(t, err)
}

func millis(n int) time.Duration { return time.Duration(n) * time.Millisecond }
