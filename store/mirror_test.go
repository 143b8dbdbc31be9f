package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/store"
)

// remoteCluster is a cluster publishing two resources the way Cilium does:
// nodes under <nodes>/<cluster>/, identities under <identities>/id/, each
// with its synced marker cilium/synced/<cluster>/<resource prefix>.
type remoteCluster struct {
	name    string
	backend kvstore.BackendOperations
	nodes   store.SyncStore
	ids     store.SyncStore
	want    map[string]string // what the local copy must hold, by full key
	// nodesCache and idsCache are the local cache prefixes of the two
	// resources (cilium/cache/...).
	nodesCache, idsCache string
}

func TestMirrorTwoRemoteClustersOnEtcd(t *testing.T) {
	tok := strings.ReplaceAll(strings.TrimSuffix(hivetest.UniquePrefix(t), "/"), "/", "-")
	nodesPrefix := kvstore.StatePrefix + "/" + tok + "-nodes/v1"
	idsPrefix := kvstore.StatePrefix + "/" + tok + "-identities/v1"
	// Nodes are read from <prefix>/<cluster>, identities from the prefix
	// itself, as KVStoreMesh does.
	resources := []store.MirrorResource{{Prefix: nodesPrefix}, {Prefix: idsPrefix, Source: idsPrefix}}
	log, _ := quietLogger()
	f := store.NewFactory(store.WithLogger(log))
	ctx := testCtx(t)
	local := etcdClient(t)

	// Remote 1 has an etcd of its own (it is restarted below); remote 2
	// shares the local one, apart by key prefix.
	srv1 := hivetest.StartServer(t)
	remotes := []*remoteCluster{
		{name: uniqueCluster(t, "r1"), backend: newEtcdClient(t, srv1, nil)},
		{name: uniqueCluster(t, "r2"), backend: etcdClient(t)},
	}
	mirrors := make([]*store.Mirror, len(remotes))
	for i, r := range remotes {
		r.want = map[string]string{}
		r.nodesCache = kvstore.StateToCachePrefix(nodesPrefix)
		r.idsCache = kvstore.StateToCachePrefix(idsPrefix)
		r.nodes = f.NewSyncStore(r.name, r.backend, path.Join(nodesPrefix, r.name), store.WSSWithSyncedKeyOverride(nodesPrefix))
		r.ids = f.NewSyncStore(r.name, r.backend, idsPrefix, store.WSSWithSyncedKeyOverride(idsPrefix))
		run(t, r.nodes.Run)
		run(t, r.ids.Run)
		for n := range 20 {
			r.upsertNode(t, ctx, fmt.Sprintf("node%02d", n), r.name)
			r.upsertID(t, ctx, fmt.Sprintf("%d", 100+n), "labels-"+r.name)
		}
		m, err := store.NewMirror(store.MirrorConfig{
			Cluster: r.name, Remote: r.backend, Local: local,
			Resources: resources, SyncedCanaries: true, Factory: f,
		})
		require.NoError(t, err)
		mirrors[i] = m
		run(t, func(ctx context.Context) { require.NoError(t, m.Run(ctx)) })
	}
	for i, r := range remotes {
		require.Never(t, mirrors[i].Synced, 3*tick, tick, "copying before the remote is synced")
		require.NoError(t, r.nodes.Synced(ctx))
		require.NoError(t, r.ids.Synced(ctx))
	}
	check := func() {
		t.Helper()
		for i, r := range remotes {
			require.Eventually(t, mirrors[i].Synced, waitFor, tick)
			want := maps.Clone(r.want)
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				got := list(t, local, kvstore.CachePrefix+"/"+tok)
				mine := map[string]string{}
				for k, v := range got {
					if strings.Contains(k, "/"+r.name+"/") {
						mine[k] = v
					}
				}
				assert.Equal(c, want, mine)
			}, waitFor, tick)
			for _, p := range []string{nodesPrefix, idsPrefix} {
				marker := path.Join(kvstore.SyncedPrefix, r.name, kvstore.StateToCachePrefix(p))
				require.NotEmpty(t, list(t, local, marker)[marker], "marker %s", marker)
			}
		}
	}
	check()

	// A key deleted at the source goes from the copy.
	r2 := remotes[1]
	require.NoError(t, r2.nodes.DeleteKey(ctx, store.NewKVPair("node03", "")))
	delete(r2.want, path.Join(kvstore.CachePrefix, tok+"-nodes/v1", r2.name, "node03"))
	require.NoError(t, r2.backend.Delete(ctx, idsPrefix+"/id/105")) // behind the writer's back
	delete(r2.want, path.Join(kvstore.CachePrefix, tok+"-identities/v1", r2.name, "id/105"))
	check()

	// Remote 1 restarts; changes made after it is back are mirrored.
	require.NoError(t, srv1.Stop())
	require.NoError(t, srv1.Restart(ctx))
	r1 := remotes[0]
	r1.upsertNode(t, ctx, "node-new", "after restart")
	require.NoError(t, r1.nodes.DeleteKey(ctx, store.NewKVPair("node00", "")))
	delete(r1.want, path.Join(kvstore.CachePrefix, tok+"-nodes/v1", r1.name, "node00"))
	r1.upsertID(t, ctx, "100", "changed")
	check()
}

func (r *remoteCluster) upsertNode(t *testing.T, ctx context.Context, name, value string) {
	require.NoError(t, r.nodes.UpsertKey(ctx, store.NewKVPair(name, value)))
	r.want[path.Join(r.nodesCache, r.name, name)] = value
}

func (r *remoteCluster) upsertID(t *testing.T, ctx context.Context, id, value string) {
	require.NoError(t, r.ids.UpsertKey(ctx, store.NewKVPair("id/"+id, value)))
	r.want[path.Join(r.idsCache, r.name, "id", id)] = value
}

func TestMirrorBadConfiguration(t *testing.T) {
	_, c := newMemory(t)
	_, err := store.NewMirror(store.MirrorConfig{Remote: c, Local: c})
	require.ErrorIs(t, err, store.ErrEmptyClusterName)
	_, err = store.NewMirror(store.MirrorConfig{Cluster: "r", Local: c})
	require.ErrorIs(t, err, store.ErrNoBackend)
	_, err = store.NewMirror(store.MirrorConfig{Cluster: "r", Remote: c, Local: c, Resources: []store.MirrorResource{{}}})
	require.ErrorIs(t, err, store.ErrEmptyPrefix)

	m, err := store.NewMirror(store.MirrorConfig{Cluster: "r", Remote: c, Local: c})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	start := func() { go func() { done <- m.Run(ctx) }() }
	start()
	// A Run with an ended ctx returns at once: refused while the long
	// one runs; run and stopped if it comes first (which may refuse the
	// long one: then start that again).
	ended, end := context.WithCancel(ctx)
	end()
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			if !errors.Is(err, store.ErrAlreadyRunning) {
				t.Errorf("the long Run returned early: %v", err)
			}
			start()
			return false
		default:
		}
		return errors.Is(m.Run(ended), store.ErrAlreadyRunning)
	}, waitFor, tick)
	cancel()
	require.NoError(t, <-done)
}

// TestMirrorDeletesStaleCopiesOnEtcd: a key deleted at the source while no
// mirror ran is deleted from the copy by the next mirror, once its initial
// copy is written; the old mirror's copies are on a lease that outlives it.
func TestMirrorDeletesStaleCopiesOnEtcd(t *testing.T) {
	tok := strings.ReplaceAll(strings.TrimSuffix(hivetest.UniquePrefix(t), "/"), "/", "-")
	nodes := kvstore.StatePrefix + "/" + tok + "-nodes/v1"
	cluster := uniqueCluster(t, "r")
	log, _ := quietLogger()
	f := store.NewFactory(store.WithLogger(log))
	ctx := testCtx(t)
	remote := etcdClient(t)
	writer := f.NewSyncStore(cluster, remote, path.Join(nodes, cluster), store.WSSWithSyncedKeyOverride(nodes))
	run(t, writer.Run)
	for _, n := range []string{"a", "b", "c"} {
		require.NoError(t, writer.UpsertKey(ctx, store.NewKVPair(n, n)))
	}
	require.NoError(t, writer.Synced(ctx))
	cache := path.Join(kvstore.StateToCachePrefix(nodes), cluster) + "/"

	mirror := func() (*store.Mirror, func()) {
		m, err := store.NewMirror(store.MirrorConfig{
			Cluster: cluster, Remote: remote, Local: etcdClient(t),
			Resources: []store.MirrorResource{{Prefix: nodes}}, SyncedCanaries: true, Factory: f,
		})
		require.NoError(t, err)
		return m, run(t, func(ctx context.Context) { require.NoError(t, m.Run(ctx)) })
	}
	m1, stop1 := mirror()
	require.Eventually(t, m1.Synced, waitFor, tick)
	require.Equal(t, map[string]string{cache + "a": "a", cache + "b": "b", cache + "c": "c"}, list(t, remote, cache))
	stop1()

	require.NoError(t, writer.DeleteKey(ctx, store.NewKVPair("b", "")))
	require.Eventually(t, func() bool { return len(list(t, remote, path.Join(nodes, cluster)+"/")) == 2 }, waitFor, tick)
	require.Len(t, list(t, remote, cache), 3, "the stale copy is still there")

	m2, _ := mirror()
	require.Eventually(t, m2.Synced, waitFor, tick)
	require.Equal(t, map[string]string{cache + "a": "a", cache + "c": "c"}, list(t, remote, cache))
}
