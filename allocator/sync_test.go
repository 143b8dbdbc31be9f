package allocator_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
)

// A slave key lost with its lease comes back at once, not at the next
// periodic sync.
func TestSlaveKeyRecreatedAfterLeaseExpiry(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		// A short lease TTL: a client learns of a revoked lease from its
		// next keepalive, sent every TTL/3.
		c := k.b.New(t, nil, &kvstore.ExtraOptions{LeaseTTL: 3 * time.Second})
		a := newAllocator(t, c, base, "n", allocator.WithSyncInterval(0))
		id, _, _, err := a.Allocate(ctx, "k;")
		require.NoError(t, err)
		slave := base + "/value/k;/n"
		pairs, err := c.ListPrefix(ctx, slave)
		require.NoError(t, err)
		lease := pairs[slave].LeaseID
		k.b.RevokeLease(t, lease)
		require.Eventually(t, func() bool {
			pairs, err := c.ListPrefix(ctx, slave)
			return err == nil && string(pairs[slave].Data) == id.String() && pairs[slave].LeaseID != lease
		}, testTimeout, 10*time.Millisecond)
	})
}

// The periodic sync re-creates the master and slave keys of the keys this
// node uses, and nothing for released keys.
func TestPeriodicSyncRecreatesKeys(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		c := k.newCli(t)
		a := newAllocator(t, c, base, "n", allocator.WithSyncInterval(20*time.Millisecond))
		id, _, _, err := a.Allocate(ctx, "used;")
		require.NoError(t, err)
		_, _, _, err = a.Allocate(ctx, "released;")
		require.NoError(t, err)
		_, err = a.Release(ctx, "released;")
		require.NoError(t, err)
		require.NoError(t, c.DeletePrefix(ctx, base+"/"))
		want := map[string]string{
			base + "/id/" + id.String(): "used;",
			base + "/value/used;/n":     id.String(),
		}
		require.Eventually(t, func() bool {
			got := listStrings(t, c, base+"/")
			return len(got) == 2 && got[base+"/id/"+id.String()] == want[base+"/id/"+id.String()] &&
				got[base+"/value/used;/n"] == id.String()
		}, testTimeout, 10*time.Millisecond)
	})
}

// failingDeletes fails Delete while fail is set.
type failingDeletes struct {
	kvstore.BackendOperations
	fail atomic.Bool
}

func (f *failingDeletes) Delete(ctx context.Context, key string) error {
	if f.fail.Load() {
		return errors.New("store unreachable")
	}
	return f.BackendOperations.Delete(ctx, key)
}

// A Release whose delete failed leaves no slave key behind for good: the
// periodic sync deletes it once the store answers.
func TestFailedReleaseIsRetried(t *testing.T) {
	ctx := testCtx(t)
	base := basePath(t)
	f := &failingDeletes{BackendOperations: memKit().newCli(t)}
	a := newAllocator(t, f, base, "n", allocator.WithSyncInterval(20*time.Millisecond))
	_, _, _, err := a.Allocate(ctx, "k;")
	require.NoError(t, err)
	f.fail.Store(true)
	last, err := a.Release(ctx, "k;")
	require.True(t, last)
	require.ErrorContains(t, err, "store unreachable")
	require.Contains(t, listStrings(t, f, base+"/value/"), base+"/value/k;/n")
	f.fail.Store(false)
	require.Eventually(t, func() bool { return len(listStrings(t, f, base+"/value/")) == 0 }, testTimeout, 10*time.Millisecond)
}
