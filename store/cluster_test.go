package store_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/store"
)

// badClusterNames would each address keys other than the cluster's own, or
// break Cilium's rule.
var badClusterNames = []string{
	"", "..", ".", "c3/..", "c3/", "/c3", "a/b", "-c3", "c3-", "-", "C3", "c_3", "c 3", "c3\n", "c.3", "é",
	strings.Repeat("a", store.MaxClusterNameLength+1),
}

func TestValidateClusterName(t *testing.T) {
	for _, name := range []string{"a", "0", "c3", "default", "cluster-1", "a-b-c", "a--b", strings.Repeat("a", store.MaxClusterNameLength)} {
		require.NoError(t, store.ValidateClusterName(name), "%q", name)
	}
	for _, name := range badClusterNames {
		err := store.ValidateClusterName(name)
		require.ErrorIs(t, err, store.ErrInvalidClusterName, "%q", name)
		require.ErrorContains(t, err, "lowercase letters a-z, digits and '-'", "the error states the rule")
	}
	require.ErrorIs(t, store.ValidateClusterName(""), store.ErrEmptyClusterName)
}

// A Mirror named ".." or "c3/.." would own cilium/cache/nodes (or
// .../v1) and its stale-copy cleanup would delete other clusters' copies.
func TestMirrorRefusesBadClusterNames(t *testing.T) {
	_, c := newMemory(t)
	for _, name := range badClusterNames {
		_, err := store.NewMirror(store.MirrorConfig{Cluster: name, Remote: c, Local: c})
		require.ErrorIs(t, err, store.ErrInvalidClusterName, "%q", name)
	}
}

// A SyncStore's cluster name is a segment of its synced marker's key: a bad
// one is refused at the first call that would write, before anything is
// written.
func TestSyncStoreRefusesBadClusterNames(t *testing.T) {
	_, c := newMemory(t)
	ctx := testCtx(t)
	for _, name := range badClusterNames {
		log, hook := quietLogger()
		ss := store.NewFactory(store.WithLogger(log)).NewSyncStore(name, c, "cilium/state/nodes/v1")
		require.True(t, hasLog(hook, store.ErrInvalidClusterName), "%q: logged at creation", name)
		require.ErrorIs(t, ss.UpsertKey(ctx, store.NewKVPair("a", "1")), store.ErrInvalidClusterName, "%q", name)
		require.ErrorIs(t, ss.DeleteKey(ctx, store.NewKVPair("a", "1")), store.ErrInvalidClusterName, "%q", name)
		require.ErrorIs(t, ss.Synced(ctx), store.ErrInvalidClusterName, "%q", name)
		ss.Run(ctx) // returns at once
	}
	require.Empty(t, list(t, c, ""), "nothing written")
}

// A WatchStoreManager watches cilium/synced/<cluster>/: a bad name would
// watch other clusters' markers, so Run refuses it.
func TestWatchStoreManagerRefusesBadClusterNames(t *testing.T) {
	_, c := newMemory(t)
	ctx := testCtx(t)
	for _, name := range badClusterNames {
		log, hook := quietLogger()
		var started counter
		m := store.NewFactory(store.WithLogger(log)).NewWatchStoreManager(c, name)
		m.Register("cilium/state/nodes/v1", started.inc)
		m.Run(ctx) // returns at once
		require.True(t, hasLog(hook, store.ErrInvalidClusterName), "%q", name)
		require.Zero(t, started.n.Load())
	}
}
