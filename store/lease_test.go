package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/store"
)

// leaseBackend is a client whose leases a test can revoke, as if they had
// expired.
type leaseBackend struct {
	name   string
	client func(t *testing.T) (c kvstore.BackendOperations, revoke func(id int64))
}

// leaseBackends are both backends, the etcd client on a short lease TTL so
// that it notices a revoked lease quickly.
var leaseBackends = []leaseBackend{
	{"memory", func(t *testing.T) (kvstore.BackendOperations, func(int64)) {
		mem, c := newMemory(t)
		return c, func(id int64) { require.True(t, mem.RevokeLease(id)) }
	}},
	{"etcd", func(t *testing.T) (kvstore.BackendOperations, func(int64)) {
		srv := hivetest.SharedServer(t)
		log, _ := quietLogger()
		c := newEtcdClient(t, srv, &kvstore.ExtraOptions{Logger: log, LeaseTTL: 3 * time.Second})
		return c, func(id int64) { revokeLease(t, srv, id) }
	}},
}

// TestReplacedSyncStoreKeepsItsLeaseObservers: a SyncStore replaced by
// another on the same client and prefix (a restarted component) must keep
// re-writing its keys lost with the lease after the old store stops. With
// observers registered per prefix, the old store's Run removed the new
// store's observers on its way out.
func TestReplacedSyncStoreKeepsItsLeaseObservers(t *testing.T) {
	for _, b := range leaseBackends {
		t.Run(b.name, func(t *testing.T) {
			c, revoke := b.client(t)
			prefix := hivetest.UniquePrefix(t) + "things"
			cluster := uniqueCluster(t, "c")
			log, _ := quietLogger()
			f := store.NewFactory(store.WithLogger(log))
			ctx := testCtx(t)

			old := f.NewSyncStore(cluster, c, prefix, store.WSSWithResyncInterval(0))
			stopOld := run(t, old.Run)
			require.NoError(t, old.UpsertKey(ctx, store.NewKVPair("a", "old")))
			require.Eventually(t, func() bool { return list(t, c, prefix+"/")[prefix+"/a"] == "old" }, waitFor, tick)

			replacement := f.NewSyncStore(cluster, c, prefix, store.WSSWithResyncInterval(0))
			run(t, replacement.Run)
			var synced counter
			require.NoError(t, replacement.UpsertKey(ctx, store.NewKVPair("a", "new")))
			require.NoError(t, replacement.Synced(ctx, synced.inc))
			require.Eventually(t, func() bool { return synced.n.Load() == 1 }, waitFor, tick)
			stopOld()

			marker := kvstore.SyncedPrefix + "/" + cluster + "/" + prefix
			kvs, err := c.ListPrefix(ctx, prefix+"/a")
			require.NoError(t, err)
			lease := kvs[prefix+"/a"].LeaseID
			require.NotZero(t, lease)
			revoke(lease)

			require.Eventually(t, func() bool {
				kvs, err := c.ListPrefix(ctx, "")
				return err == nil && string(kvs[prefix+"/a"].Data) == "new" && kvs[prefix+"/a"].LeaseID != lease &&
					len(kvs[marker].Data) > 0
			}, waitFor, tick, "the replacement did not re-write its key and marker lost with the lease")
		})
	}
}
