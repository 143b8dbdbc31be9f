package allocator_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
)

// An Allocator that replaces another on the same client, base path and node
// keeps re-creating its slave keys lost with their lease after the old one
// closes: the old one's cleanup removes only its own lease-expiry observer.
func TestReplacedAllocatorKeepsItsLeaseObserver(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		// A revoked lease is noticed at its next keepalive, every third
		// of the TTL: a short TTL keeps that within the test's bound.
		c := k.b.New(t, nil, &kvstore.ExtraOptions{LeaseTTL: kvstore.MinLeaseTTL})
		old := newAllocator(t, c, base, "n", allocator.WithSyncInterval(0))
		replacement := newAllocator(t, c, base, "n", allocator.WithSyncInterval(0))
		old.Close()

		id, _, _, err := replacement.Allocate(ctx, "k;")
		require.NoError(t, err)
		slave := base + "/value/k;/n"
		pairs, err := c.ListPrefix(ctx, slave)
		require.NoError(t, err)
		lease := pairs[slave].LeaseID
		require.NotZero(t, lease)
		k.b.RevokeLease(t, lease)
		require.Eventually(t, func() bool {
			pairs, err := c.ListPrefix(ctx, slave)
			return err == nil && string(pairs[slave].Data) == id.String() && pairs[slave].LeaseID != lease
		}, testTimeout, 10*time.Millisecond, "the replacement's slave key was not re-created")
	})
}
