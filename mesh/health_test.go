package mesh_test

import (
	"context"
	"testing"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/hivetest"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/cells"
	kvtest "github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/mesh"
	"github.com/hivekv/kvstore/store"
)

// scopeOf reads one scope of sh ("" level: not there).
func scopeOf(sh *cell.SimpleHealth, name string) (level cell.Level, status, errText string) {
	s := sh.GetChild(name)
	if s == nil {
		return "", "", ""
	}
	s.Lock()
	defer s.Unlock()
	if s.Error != nil {
		errText = s.Error.Error()
	}
	return s.Level, s.Status, errText
}

// TestMeshHealth: against real etcd, a cluster with a broken config file is
// Degraded with the cluster and the cause while the healthy one stays OK;
// the module is Degraded until the file is fixed, then OK; a removed
// cluster's part goes away once drained; the end of Run is Stopped.
func TestMeshHealth(t *testing.T) {
	remote := kvtest.StartServer(t)
	good, broken := clusterName(t, "good"), clusterName(t, "broken")
	dir := newK8sDir(t)
	dir.set(t, map[string]string{good: configOf(t, remote.Endpoint()), broken: "endpoints: [\n"})
	h, sh := cell.NewSimpleHealth()
	opts := fastOptions()
	opts.Health = h
	m, err := mesh.New(fastConfig(dir.dir, clusterName(t, "local")), opts)
	require.NoError(t, err)
	stop := runMesh(t, m, localClient(t, kvtest.SharedServer(t), nil))

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		level, status, errText := scopeOf(sh, "kvstoremesh")
		assert.Equal(c, cell.StatusDegraded, level)
		assert.Equal(c, "cluster-"+broken+": config file unusable: fix it, the mesh retries once it changes", status)
		assert.Contains(c, errText, `cluster "`+broken+`"`)
		assert.Contains(c, errText, mesh.ErrRemoteConfig.Error())
		level, status, _ = scopeOf(sh, "cluster-"+good)
		assert.Equal(c, cell.StatusOK, level)
		assert.Equal(c, "synced, 0 keys mirrored", status)
		level, _, _ = scopeOf(sh, "cluster-"+broken)
		assert.Equal(c, cell.StatusDegraded, level)
	}, waitFor, 10*time.Millisecond)

	// Fixed: the whole module is OK, with the leader's and both clusters'
	// statuses.
	dir.set(t, map[string]string{good: configOf(t, remote.Endpoint()), broken: configOf(t, remote.Endpoint())})
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		level, status, _ := scopeOf(sh, "kvstoremesh")
		assert.Equal(c, cell.StatusOK, level)
		assert.Contains(c, status, "leader: leader, mirroring 2 clusters")
		assert.Contains(c, status, "cluster-"+good+": synced")
		assert.Contains(c, status, "cluster-"+broken+": synced")
	}, waitFor, 10*time.Millisecond)

	// Removed: draining, then gone — never left Degraded.
	dir.set(t, map[string]string{good: configOf(t, remote.Endpoint())})
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		level, status, _ := scopeOf(sh, "kvstoremesh")
		assert.Equal(c, cell.StatusOK, level)
		assert.Equal(c, "leader: leader, mirroring 1 clusters; cluster-"+good+": synced, 0 keys mirrored", status)
		// Closed; cell.SimpleHealth keeps a closed scope, with its
		// last report.
		level, status, _ = scopeOf(sh, "cluster-"+broken)
		assert.Contains(c, []cell.Level{"", cell.StatusStopped}, level, status)
	}, waitFor, 10*time.Millisecond)

	stop()
	level, status, _ := scopeOf(sh, "kvstoremesh")
	require.Equal(t, cell.StatusStopped, level)
	require.Contains(t, status, "leader: kvstoremesh stopped")
}

// TestMeshHealthStandby: a replica waiting for the leader lock is OK as a
// standby with no cluster part; it reports leader once the lock is free.
func TestMeshHealthStandby(t *testing.T) {
	ctx := testCtx(t)
	remote := kvtest.StartServer(t)
	local := kvtest.SharedServer(t)
	c1, localName := clusterName(t, "c1"), clusterName(t, "local")
	dir := newK8sDir(t)
	dir.set(t, map[string]string{c1: configOf(t, remote.Endpoint())})
	rival, err := localClient(t, local, nil).LockPath(ctx, mesh.LeaderLockPath(localName))
	require.NoError(t, err)

	h, sh := cell.NewSimpleHealth()
	opts := fastOptions()
	opts.Health = h
	m, err := mesh.New(fastConfig(dir.dir, localName), opts)
	require.NoError(t, err)
	runMesh(t, m, localClient(t, local, nil))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		level, status, _ := scopeOf(sh, "kvstoremesh")
		assert.Equal(c, cell.StatusOK, level)
		assert.Equal(c, "leader: standby, waiting for the leader lock "+mesh.LeaderLockPath(localName), status)
	}, waitFor, 10*time.Millisecond)

	require.NoError(t, rival.Unlock(ctx))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		level, status, _ := scopeOf(sh, "kvstoremesh")
		assert.Equal(c, cell.StatusOK, level)
		assert.Equal(c, "leader: leader, mirroring 1 clusters; cluster-"+c1+": synced, 0 keys mirrored", status)
	}, waitFor, 10*time.Millisecond)
}

// TestCellHealth: mesh.Cell reports into the graph's cell.Health; an
// unreachable cluster is Degraded with its cause, the reachable one OK; the
// hive's stop leaves the scope Stopped.
func TestCellHealth(t *testing.T) {
	remote := kvtest.StartServer(t)
	good, dead := clusterName(t, "good"), clusterName(t, "dead")
	dir := newK8sDir(t)
	dir.set(t, map[string]string{good: configOf(t, remote.Endpoint()), dead: configOf(t, "http://127.0.0.1:1")})
	opts := fastOptions()
	var sh *cell.SimpleHealth
	h := hive.New(
		cell.Provide(func() *mesh.Options { return &opts }),
		cell.SimpleHealthCell,
		cell.Invoke(func(s *cell.SimpleHealth) { sh = s }),
		cells.Client, store.Cell, mesh.Cell,
	)
	fs := pflag.NewFlagSet(t.Name(), pflag.ContinueOnError)
	h.RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{
		"--kvstore=etcd", "--kvstore-opt=etcd.address=" + kvtest.SharedServer(t).Endpoint(),
		"--clustermesh-config=" + dir.dir, "--cluster-name=" + clusterName(t, "local"),
		"--clustermesh-config-poll-interval=20ms", "--kvstoremesh-drain-orphans=false",
	}))
	log := hivetest.Logger(t)
	require.NoError(t, h.Start(log, testCtx(t)))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = h.Stop(log, context.Background())
		}
	})

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		level, status, errText := scopeOf(sh, "kvstoremesh")
		assert.Equal(c, cell.StatusDegraded, level)
		assert.Equal(c, "cluster-"+dead+": not connected, retrying with backoff", status)
		assert.Contains(c, errText, `cluster "`+dead+`"`)
		assert.Contains(c, errText, mesh.ErrRemoteUnreachable.Error())
		level, status, _ = scopeOf(sh, "cluster-"+good)
		assert.Equal(c, cell.StatusOK, level)
		assert.Equal(c, "synced, 0 keys mirrored", status)
	}, waitFor, 10*time.Millisecond)

	stopped = true
	require.NoError(t, h.Stop(log, testCtx(t)))
	level, status, _ := scopeOf(sh, "kvstoremesh")
	require.Equal(t, cell.StatusStopped, level)
	require.Contains(t, status, "cluster-"+dead+": kvstoremesh stopped")
}
