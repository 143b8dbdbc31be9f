package mesh_test

import (
	"context"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/mesh"
)

const (
	nodes = kvstore.StatePrefix + "/nodes/v1"
	ids   = kvstore.StatePrefix + "/identities/v1"
)

func cacheOf(prefix, cluster string) string {
	return path.Join(kvstore.StateToCachePrefix(prefix), cluster) + "/"
}

// TestMeshAddChangeRemoveDrain: a cluster whose file appears is mirrored; a
// changed file (atomic ..data swap) reconnects it without losing the copy;
// a removed file drains it in Cilium's order: cluster config, then synced
// markers, then data.
func TestMeshAddChangeRemoveDrain(t *testing.T) {
	ctx := testCtx(t)
	remote := hivetest.StartServer(t)
	rcli := remote.Client(t)
	local := hivetest.SharedServer(t)
	lcli := local.Client(t)
	c1 := clusterName(t, "c1")

	_, err := rcli.Put(ctx, path.Join(nodes, c1, "n1"), "node-1")
	require.NoError(t, err)
	_, err = rcli.Put(ctx, path.Join(ids, "id", "100"), "id-100")
	require.NoError(t, err)

	dir := newK8sDir(t)
	dir.set(t, map[string]string{c1: configOf(t, remote.Endpoint())})
	m, err := mesh.New(fastConfig(dir.dir, clusterName(t, "local")), fastOptions())
	require.NoError(t, err)
	runMesh(t, m, localClient(t, local, nil))

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		st, ok := clusterStatus(m, c1)
		require.True(c, ok)
		assert.True(c, st.Connected)
		assert.True(c, st.Synced)
		assert.EqualValues(c, 2, st.Keys)
		assert.Empty(c, st.LastError)
	}, waitFor, 10*time.Millisecond)
	require.Equal(t, map[string]string{cacheOf(nodes, c1) + "n1": "node-1"}, keys(t, lcli, cacheOf(nodes, c1)))
	require.Equal(t, map[string]string{cacheOf(ids, c1) + "id/100": "id-100"}, keys(t, lcli, cacheOf(ids, c1)))
	cfg := keys(t, lcli, path.Join(kvstore.ClusterConfigPrefix, c1))
	require.JSONEq(t, `{"id":0,"capabilities":{"syncedCanaries":true,"cached":true}}`, cfg[path.Join(kvstore.ClusterConfigPrefix, c1)])
	require.Len(t, keys(t, lcli, path.Join(kvstore.SyncedPrefix, c1)+"/"), 4)

	// Changes while mirroring reach the copy.
	_, err = rcli.Put(ctx, path.Join(nodes, c1, "n2"), "node-2")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(keys(t, lcli, cacheOf(nodes, c1))) == 2 }, waitFor, 10*time.Millisecond)

	// Reconfigure: same server, another file content. The mirror
	// reconnects; the copy stays and follows later changes.
	before := keys(t, lcli, kvstore.CachePrefix)
	dir.set(t, map[string]string{c1: configOf(t, remote.Endpoint(), remote.Endpoint())})
	_, err = rcli.Delete(ctx, path.Join(nodes, c1, "n1"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(keys(t, lcli, cacheOf(nodes, c1))) == 1 }, waitFor, 10*time.Millisecond)
	require.Subset(t, before, keys(t, lcli, cacheOf(nodes, c1)))

	// Remove: watch the local deletions and check their order.
	w := lcli.Watch(ctx, "cilium/", clientv3.WithPrefix(), clientv3.WithFilterPut())
	dir.set(t, map[string]string{})
	var order []string
	require.Eventually(t, func() bool {
		for {
			select {
			case resp := <-w:
				for _, ev := range resp.Events {
					k := string(ev.Kv.Key)
					var kind string
					switch {
					case k == path.Join(kvstore.ClusterConfigPrefix, c1):
						kind = "config"
					case strings.HasPrefix(k, path.Join(kvstore.SyncedPrefix, c1)+"/"):
						kind = "synced"
					case strings.HasPrefix(k, cacheOf(nodes, c1)), strings.HasPrefix(k, cacheOf(ids, c1)):
						kind = "data"
					}
					if kind != "" && (len(order) == 0 || order[len(order)-1] != kind) {
						order = append(order, kind)
					}
				}
			default:
				return len(order) == 3
			}
		}
	}, waitFor, 10*time.Millisecond)
	require.Equal(t, []string{"config", "synced", "data"}, order)
	require.Empty(t, keys(t, lcli, path.Join(kvstore.SyncedPrefix, c1)+"/"))
	require.Eventually(t, func() bool { _, ok := clusterStatus(m, c1); return !ok }, waitFor, 10*time.Millisecond)
}

// TestMeshReAddDuringGraceAbortsDrain: a cluster removed and added again
// within the grace period keeps its data: only its cluster config went, and
// the new mirror writes it again.
func TestMeshReAddDuringGraceAbortsDrain(t *testing.T) {
	ctx := testCtx(t)
	remote := hivetest.StartServer(t)
	rcli := remote.Client(t)
	lcli := hivetest.SharedServer(t).Client(t)
	c1 := clusterName(t, "c1")
	_, err := rcli.Put(ctx, path.Join(nodes, c1, "n1"), "node-1")
	require.NoError(t, err)

	dir := newK8sDir(t)
	file := map[string]string{c1: configOf(t, remote.Endpoint())}
	dir.set(t, file)
	cfg := fastConfig(dir.dir, clusterName(t, "local"))
	cfg.ClustermeshDrainGracePeriod = time.Hour
	m, err := mesh.New(cfg, fastOptions())
	require.NoError(t, err)
	runMesh(t, m, localClient(t, hivetest.SharedServer(t), nil))
	configKey := path.Join(kvstore.ClusterConfigPrefix, c1)
	require.Eventually(t, func() bool { st, _ := clusterStatus(m, c1); return st.Synced }, waitFor, 10*time.Millisecond)

	dir.set(t, map[string]string{})
	require.Eventually(t, func() bool { return len(keys(t, lcli, configKey)) == 0 }, waitFor, 10*time.Millisecond)
	st, _ := clusterStatus(m, c1)
	require.True(t, st.Draining)
	require.Len(t, keys(t, lcli, cacheOf(nodes, c1)), 1, "data stays during the grace period")

	dir.set(t, file)
	require.Eventually(t, func() bool { return len(keys(t, lcli, configKey)) == 1 }, waitFor, 10*time.Millisecond)
	require.Eventually(t, func() bool { st, _ := clusterStatus(m, c1); return st.Synced && !st.Draining }, waitFor, 10*time.Millisecond)
	require.Len(t, keys(t, lcli, cacheOf(nodes, c1)), 1)
}

// TestMeshFailuresStayInTheirEntry: a broken file, an unreachable cluster
// and a bad name each fail in their own status entry, naming the cluster and
// why, while a healthy cluster next to them is mirrored.
func TestMeshFailuresStayInTheirEntry(t *testing.T) {
	ctx := testCtx(t)
	remote := hivetest.StartServer(t)
	_, err := remote.Client(t).Put(ctx, path.Join(nodes, clusterName(t, "good"), "n1"), "node-1")
	require.NoError(t, err)
	good, broken, dead := clusterName(t, "good"), clusterName(t, "broken"), clusterName(t, "dead")

	dir := newK8sDir(t)
	dir.set(t, map[string]string{
		good:       configOf(t, remote.Endpoint()),
		broken:     "endpoints: [\n",
		dead:       configOf(t, "http://127.0.0.1:1"),
		"Bad_Name": configOf(t, remote.Endpoint()),
	})
	m, err := mesh.New(fastConfig(dir.dir, clusterName(t, "local")), fastOptions())
	require.NoError(t, err)
	runMesh(t, m, localClient(t, hivetest.SharedServer(t), nil))

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		byName := map[string]mesh.ClusterStatus{}
		for _, s := range m.Status().Clusters {
			byName[s.Name] = s
		}
		assert.True(c, byName[good].Synced, "the healthy cluster is mirrored")
		assert.Contains(c, byName[broken].LastError, `cluster "`+broken+`"`)
		assert.Contains(c, byName[broken].LastError, mesh.ErrRemoteConfig.Error())
		assert.Contains(c, byName[dead].LastError, `cluster "`+dead+`"`)
		assert.Contains(c, byName[dead].LastError, mesh.ErrRemoteUnreachable.Error())
		assert.Contains(c, byName["Bad_Name"].LastError, mesh.ErrInvalidClusterName.Error())
		assert.False(c, byName[broken].Connected || byName[dead].Connected || byName["Bad_Name"].Connected)
	}, waitFor, 20*time.Millisecond)

	// Fixing the broken file brings the cluster up.
	dir.set(t, map[string]string{good: configOf(t, remote.Endpoint()), broken: configOf(t, remote.Endpoint())})
	require.Eventually(t, func() bool {
		st, ok := clusterStatus(m, broken)
		return ok && st.Synced && st.LastError == ""
	}, waitFor, 20*time.Millisecond)
}

// TestMeshFailover: two replicas, one leads and mirrors; when its lock
// session goes (its client closes, revoking the lease) the other takes over
// and keeps the copy complete.
func TestMeshFailover(t *testing.T) {
	ctx := testCtx(t)
	remote := hivetest.StartServer(t)
	rcli := remote.Client(t)
	srv := hivetest.SharedServer(t)
	lcli := srv.Client(t)
	c1 := clusterName(t, "c1")
	_, err := rcli.Put(ctx, path.Join(nodes, c1, "n1"), "node-1")
	require.NoError(t, err)

	dir := newK8sDir(t)
	dir.set(t, map[string]string{c1: configOf(t, remote.Endpoint())})
	cfg := fastConfig(dir.dir, clusterName(t, "local"))
	extra := &kvstore.ExtraOptions{LockLeaseTTL: 2 * time.Second}
	var replicas [2]*mesh.Mesh
	var clients [2]kvstore.BackendOperations
	for i := range replicas {
		replicas[i], err = mesh.New(cfg, fastOptions())
		require.NoError(t, err)
		clients[i] = localClient(t, srv, extra)
		runMesh(t, replicas[i], clients[i])
	}
	leader := func() int {
		l := -1
		for i, r := range replicas {
			if r.Status().Leader {
				if l >= 0 {
					return -2 // two leaders
				}
				l = i
			}
		}
		return l
	}
	require.Eventually(t, func() bool { return leader() >= 0 }, waitFor, 10*time.Millisecond)
	first := leader()
	standby := 1 - first
	require.Eventually(t, func() bool { st, _ := clusterStatus(replicas[first], c1); return st.Synced }, waitFor, 10*time.Millisecond)
	require.Empty(t, replicas[standby].Status().Clusters, "a standby mirrors nothing")

	require.Equal(t, 1, replicas[first].Status().Elections)
	require.Zero(t, replicas[standby].Status().Elections)

	clients[first].Close()
	require.Eventually(t, func() bool { return leader() == standby }, waitFor, 10*time.Millisecond)
	require.Equal(t, 1, replicas[standby].Status().Elections)
	_, err = rcli.Put(ctx, path.Join(nodes, c1, "n2"), "node-2")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, _ := clusterStatus(replicas[standby], c1)
		return st.Synced && len(keys(t, lcli, cacheOf(nodes, c1))) == 2
	}, waitFor, 10*time.Millisecond)
	got := slices.Sorted(func(yield func(string) bool) {
		for k := range keys(t, lcli, cacheOf(nodes, c1)) {
			if !yield(k) {
				return
			}
		}
	})
	require.Equal(t, []string{cacheOf(nodes, c1) + "n1", cacheOf(nodes, c1) + "n2"}, got)
}

// TestConfigValidate names the flag at fault.
func TestConfigValidate(t *testing.T) {
	c := mesh.DefaultConfig
	require.ErrorIs(t, c.Validate(), mesh.ErrNoConfigDir)
	c.ClustermeshConfig = t.TempDir()
	require.NoError(t, c.Validate())
	for _, bad := range []string{"", "-a", "a-", "A", strings.Repeat("a", 33), "a_b"} {
		c.ClusterName = bad
		require.ErrorIs(t, c.Validate(), mesh.ErrInvalidClusterName, bad)
	}
	for _, ok := range []string{"a", "a-b", strings.Repeat("a", 32), "0"} {
		c.ClusterName = ok
		require.NoError(t, c.Validate(), ok)
	}
	c.ClustermeshConfigPollInterval = 0
	require.ErrorContains(t, c.Validate(), "--"+mesh.FlagPollInterval)
	_ = context.Background()
}

// TestMeshDrainsOrphans: a cluster removed while no replica led (its config
// is in the local kvstore, its file is gone) is drained by the next leader,
// in Cilium's order; the local cluster's own config and the configured
// clusters are left alone.
func TestMeshDrainsOrphans(t *testing.T) {
	ctx := testCtx(t)
	remote := hivetest.StartServer(t)
	local := hivetest.StartServer(t) // of its own: orphans are any cluster config there
	lcli := local.Client(t)
	for _, kv := range [][2]string{
		{path.Join(kvstore.ClusterConfigPrefix, "gone"), `{"id":7}`},
		{path.Join(kvstore.SyncedPrefix, "gone", kvstore.StateToCachePrefix(nodes)), "2026-12-08T00:00:00Z"},
		{cacheOf(nodes, "gone") + "n1", "node-1"},
		{path.Join(kvstore.ClusterConfigPrefix, "home"), `{"id":1}`},
	} {
		_, err := lcli.Put(ctx, kv[0], kv[1])
		require.NoError(t, err)
	}
	_, err := remote.Client(t).Put(ctx, path.Join(nodes, "kept", "n1"), "node-1")
	require.NoError(t, err)
	dir := newK8sDir(t)
	dir.set(t, map[string]string{"kept": configOf(t, remote.Endpoint())})
	cfg := fastConfig(dir.dir, "home")
	cfg.KVStoremeshDrainOrphans = true
	m, err := mesh.New(cfg, fastOptions())
	require.NoError(t, err)
	w := lcli.Watch(ctx, "cilium/", clientv3.WithPrefix(), clientv3.WithFilterPut())
	runMesh(t, m, localClient(t, local, nil))

	var deleted []string
	require.Eventually(t, func() bool {
		for {
			select {
			case resp := <-w:
				for _, ev := range resp.Events {
					if k := string(ev.Kv.Key); strings.Contains(k, "/gone") {
						deleted = append(deleted, k)
					}
				}
			default:
				return len(deleted) >= 3
			}
		}
	}, waitFor, 10*time.Millisecond, "deleted so far: %v, status %+v", deleted, m.Status())
	require.Equal(t, []string{
		path.Join(kvstore.ClusterConfigPrefix, "gone"),
		path.Join(kvstore.SyncedPrefix, "gone", kvstore.StateToCachePrefix(nodes)),
		cacheOf(nodes, "gone") + "n1",
	}, deleted)
	require.Len(t, keys(t, lcli, path.Join(kvstore.ClusterConfigPrefix, "home")), 1, "the local cluster's config stays")
	require.Eventually(t, func() bool { st, _ := clusterStatus(m, "kept"); return st.Synced }, waitFor, 10*time.Millisecond)
	require.Len(t, keys(t, lcli, path.Join(kvstore.ClusterConfigPrefix, "kept")), 1)
}
