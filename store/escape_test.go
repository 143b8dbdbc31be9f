package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/client/memory"
	"github.com/hivekv/kvstore/store"
)

// Keys live at path.Join(prefix, name), the reference's layout; a name that
// path.Join takes out of the prefix would overwrite keys the store does not
// own. It is refused; names that stay inside are written where path.Join
// puts them.
func TestSyncStoreRefusesNamesOutsideItsPrefix(t *testing.T) {
	_, c := newMemory(t)
	log, _ := quietLogger()
	ctx := testCtx(t)
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore("c1", c, "p/x", store.WSSWithWorkers(1))
	for _, name := range []string{"..", "../y", "a/../../y", "", "/", "."} {
		require.ErrorIs(t, ss.UpsertKey(ctx, store.NewKVPair(name, "v")), store.ErrKeyOutsidePrefix, "%q", name)
		require.ErrorIs(t, ss.DeleteKey(ctx, store.NewKVPair(name, "")), store.ErrKeyOutsidePrefix, "%q", name)
	}
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("a/../b", "v")))
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("c//d/", "v")))
	var synced counter
	require.NoError(t, ss.Synced(ctx, synced.inc))
	run(t, ss.Run)
	require.Eventually(t, func() bool { return synced.n.Load() == 1 }, waitFor, tick)
	require.Equal(t, map[string]string{"p/x/b": "v", "p/x/c/d": "v", "cilium/synced/c1/p/x": list(t, c, "")["cilium/synced/c1/p/x"]},
		list(t, c, ""))

	bad := store.NewFactory(store.WithLogger(log)).NewSyncStore("c1", c, "p/x", store.WSSWithSyncedKeyOverride("../c2/p/x"))
	require.ErrorIs(t, bad.Synced(ctx), store.ErrKeyOutsidePrefix, "a synced key override must stay under cilium/synced/<cluster>/")
}

// A Mirror copies names chosen by the remote cluster: one that would land
// outside the cluster's copy (in another cluster's, or anywhere) is not
// copied.
func TestMirrorDoesNotCopyNamesOutsideItsCopy(t *testing.T) {
	remoteStore, localStore := memory.NewStore(), memory.NewStore()
	remote, local := remoteStore.NewClient(nil), localStore.NewClient(nil)
	t.Cleanup(remote.Close)
	t.Cleanup(local.Close)
	ctx := testCtx(t)
	log, _ := quietLogger()
	const nodes = "cilium/state/nodes/v1"
	for k, v := range map[string]string{
		nodes + "/r1/good":             "1",
		nodes + "/r1/../r2/stolen":     "evil", // path.Join: cilium/cache/nodes/v1/r2/stolen
		nodes + "/r1/../../../../evil": "evil",
	} {
		require.NoError(t, remote.Update(ctx, k, []byte(v), false))
	}
	m, err := store.NewMirror(store.MirrorConfig{
		Cluster: "r1", Remote: remote, Local: local,
		Resources: []store.MirrorResource{{Prefix: nodes}},
		Factory:   store.NewFactory(store.WithLogger(log)),
	})
	require.NoError(t, err)
	run(t, func(ctx context.Context) { _ = m.Run(ctx) })
	require.Eventually(t, m.Synced, waitFor, tick)
	got := list(t, local, "")
	delete(got, "cilium/synced/r1/cilium/cache/nodes/v1")
	require.Equal(t, map[string]string{"cilium/cache/nodes/v1/r1/good": "1"}, got)
}
