package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/store"
)

// uniqueCluster returns a cluster name private to the test, so that synced
// markers (cilium/synced/<cluster>/...) of tests sharing the server never
// meet.
func uniqueCluster(t testing.TB, name string) string {
	p := strings.TrimSuffix(hivetest.UniquePrefix(t), "/")
	return name + "-" + p[strings.LastIndex(p, "/")+1:]
}

func TestTwoWritersOneReaderOnEtcd(t *testing.T) {
	base := hivetest.UniquePrefix(t)
	log, _ := quietLogger()
	f := store.NewFactory(store.WithLogger(log))
	ctx := testCtx(t)
	reader := etcdClient(t)
	v := newView()
	want := map[string]string{}

	type writer struct {
		cluster, prefix string
		ss              store.SyncStore
		started         counter
		synced          counter
	}
	writers := []*writer{{cluster: uniqueCluster(t, "c1")}, {cluster: uniqueCluster(t, "c2")}}
	for i, w := range writers {
		w.prefix = base + w.cluster
		// The reader waits for each writer's marker before watching.
		mgr := f.NewWatchStoreManager(reader, w.cluster)
		ws := f.NewWatchStore(w.cluster, store.KVPairCreator, v)
		mgr.Register(w.prefix, func(ctx context.Context) {
			w.started.inc(ctx)
			ws.Watch(ctx, reader, w.prefix)
		})
		run(t, mgr.Run)

		w.ss = f.NewSyncStore(w.cluster, etcdClient(t), w.prefix)
		run(t, w.ss.Run)
		for k := range 300 {
			name := fmt.Sprintf("w%d-%03d", i, k)
			require.NoError(t, w.ss.UpsertKey(ctx, store.NewKVPair(name, name)))
			want[name] = name
		}
	}
	for _, w := range writers {
		require.Zero(t, w.started.n.Load(), "started before its writer was synced")
		require.NoError(t, w.ss.Synced(ctx, w.synced.inc))
	}
	for _, w := range writers {
		require.Eventually(t, func() bool { return w.synced.n.Load() == 1 }, waitFor, tick)
	}
	v.equals(t, want)
	for _, w := range writers {
		require.Equal(t, int64(1), w.started.n.Load(), "manager of %s", w.cluster)
	}
}

func TestWriterRestartsWithFewerKeysOnEtcd(t *testing.T) {
	srv := hivetest.SharedServer(t)
	prefix := hivetest.UniquePrefix(t) + "nodes"
	cluster := uniqueCluster(t, "c")
	log, _ := quietLogger()
	f := store.NewFactory(store.WithLogger(log))
	ctx := testCtx(t)
	v := newView()
	reader := etcdClient(t)
	ws := f.NewWatchStore(cluster, store.KVPairCreator, v)
	run(t, func(ctx context.Context) { ws.Watch(ctx, reader, prefix) })

	// The first incarnation writes ten keys.
	clientA := etcdClient(t)
	a := f.NewSyncStore(cluster, clientA, prefix)
	stopA := run(t, a.Run)
	var syncedA counter
	for i := range 10 {
		require.NoError(t, a.UpsertKey(ctx, store.NewKVPair(fmt.Sprintf("k%d", i), "a")))
	}
	require.NoError(t, a.Synced(ctx, syncedA.inc))
	require.Eventually(t, func() bool { return syncedA.n.Load() == 1 }, waitFor, tick)
	kvs, err := clientA.ListPrefix(ctx, prefix+"/k9")
	require.NoError(t, err)
	leaseA := kvs[prefix+"/k9"].LeaseID
	require.NotZero(t, leaseA)
	// It goes away (its keys stay with its lease), and comes back with
	// six keys, two of them changed.
	stopA()
	clientA.Close()
	b := f.NewSyncStore(cluster, etcdClient(t), prefix, store.WSSWithResyncInterval(50*time.Millisecond))
	run(t, b.Run)
	want := map[string]string{}
	for i := range 6 {
		val := "a"
		if i >= 4 {
			val = "b"
		}
		name := fmt.Sprintf("k%d", i)
		require.NoError(t, b.UpsertKey(ctx, store.NewKVPair(name, val)))
		want[name] = val
	}
	var syncedB counter
	require.NoError(t, b.Synced(ctx, syncedB.inc))
	require.Eventually(t, func() bool { return syncedB.n.Load() == 1 }, waitFor, tick)

	// The old lease expires: exactly the keys not re-created go.
	revokeLease(t, srv, leaseA)
	v.equals(t, want)
	v.mu.Lock()
	var deleted []string
	for _, l := range v.log {
		if name, ok := strings.CutPrefix(l, "delete "); ok {
			deleted = append(deleted, name)
		}
	}
	v.mu.Unlock()
	require.ElementsMatch(t, []string{"k6", "k7", "k8", "k9"}, deleted)

	// A key deleted behind the live writer's back comes back.
	_, err = srv.Client(t).Delete(ctx, prefix+"/k0")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return list(t, reader, prefix+"/k0")[prefix+"/k0"] == "a" }, waitFor, tick)
	v.equals(t, want)
}

func TestReaderRestartedMidStreamOnEtcd(t *testing.T) {
	prefix := hivetest.UniquePrefix(t) + "svc"
	cluster := uniqueCluster(t, "c")
	log, _ := quietLogger()
	f := store.NewFactory(store.WithLogger(log))
	ctx := testCtx(t)
	writer := etcdClient(t)
	// One write per key (the recorder hides Transactional), so that the
	// reader is stopped while the keys are still streaming in.
	ss := f.NewSyncStore(cluster, &recorder{BackendOperations: writer}, prefix)
	run(t, ss.Run)
	reader := etcdClient(t)
	v := newView()
	ws := f.NewWatchStore(cluster, store.KVPairCreator, v)
	stop := run(t, func(ctx context.Context) { ws.Watch(ctx, reader, prefix) })

	want := map[string]string{} // what the writer was told, in the end
	upsert := func(from, to int, val string) {
		for i := from; i < to; i++ {
			name := fmt.Sprintf("k%04d", i)
			require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair(name, val)))
			want[name] = val
		}
	}
	del := func(i int) {
		name := fmt.Sprintf("k%04d", i)
		require.NoError(t, ss.DeleteKey(ctx, store.NewKVPair(name, "")))
		delete(want, name)
	}
	upsert(0, 1000, "1")
	// Stop the reader once it is part-way through.
	require.Eventually(t, func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.updates >= 100
	}, waitFor, tick)
	stop()

	// While it is away: deletes, changes and new keys; more while it lists.
	for i := 0; i < 1000; i += 7 {
		del(i)
	}
	upsert(500, 600, "2")
	upsert(1000, 1100, "1")
	run(t, func(ctx context.Context) { ws.Watch(ctx, reader, prefix) })
	upsert(1100, 1200, "3")
	for i := 1; i < 1200; i += 11 {
		del(i)
	}

	v.equals(t, want)
	inStore := map[string]string{}
	for k, val := range list(t, writer, prefix+"/") {
		inStore[strings.TrimPrefix(k, prefix+"/")] = val
	}
	require.Equal(t, want, inStore)
	require.Equal(t, uint64(len(want)), ws.NumEntries())
	require.True(t, ws.Synced())
}

// TestLiveWriterRewritesKeysLostWithItsLeaseOnEtcd: the writer's lease
// expires under it (revoked on the server); the keys and the marker come
// back on a new lease, and the Synced callback does not run again.
func TestLiveWriterRewritesKeysLostWithItsLeaseOnEtcd(t *testing.T) {
	srv := hivetest.SharedServer(t)
	prefix := hivetest.UniquePrefix(t) + "lease"
	cluster := uniqueCluster(t, "c")
	log, _ := quietLogger()
	ctx := testCtx(t)
	// A short lease TTL: the client learns of a revoked lease from its next
	// keepalive, sent every TTL/3.
	c := newEtcdClient(t, srv, &kvstore.ExtraOptions{Logger: log, LeaseTTL: 3 * time.Second})
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore(cluster, c, prefix)
	run(t, ss.Run)
	for i := range 10 {
		require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair(fmt.Sprintf("k%d", i), "v")))
	}
	var synced counter
	require.NoError(t, ss.Synced(ctx, synced.inc))
	require.Eventually(t, func() bool { return synced.n.Load() == 1 }, waitFor, tick)
	marker := "cilium/synced/" + cluster + "/" + prefix
	kvs, err := c.ListPrefix(ctx, marker)
	require.NoError(t, err)
	lease := kvs[marker].LeaseID
	require.NotZero(t, lease)

	revokeLease(t, srv, lease)
	require.Eventually(t, func() bool {
		kvs, err := c.ListPrefix(ctx, prefix+"/")
		if err != nil || len(kvs) != 10 {
			return false
		}
		for _, v := range kvs {
			if v.LeaseID == lease {
				return false
			}
		}
		m, err := c.ListPrefix(ctx, marker)
		return err == nil && len(m) == 1 && m[marker].LeaseID != lease
	}, waitFor, 20*time.Millisecond)
	require.Equal(t, int64(1), synced.n.Load())
}

// TestWriterSurvivesAnEtcdOutage: writes made while the server is down wait
// (or fail and are retried with backoff); once it is back every key is
// written and the marker follows.
func TestWriterSurvivesAnEtcdOutage(t *testing.T) {
	srv := hivetest.StartServer(t)
	prefix := "outage/nodes"
	log, _ := quietLogger()
	ctx := testCtx(t)
	c := newEtcdClient(t, srv, nil)
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore("c1", c, prefix)
	run(t, ss.Run)
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("before", "1")))
	require.Eventually(t, func() bool { return len(list(t, c, prefix+"/")) == 1 }, waitFor, tick)

	require.NoError(t, srv.Stop())
	for i := range 200 {
		require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair(fmt.Sprintf("k%03d", i), "2")))
	}
	var synced counter
	require.NoError(t, ss.Synced(ctx, synced.inc))
	require.Never(t, func() bool { return synced.n.Load() != 0 }, 200*time.Millisecond, tick, "marker written while etcd is down")

	require.NoError(t, srv.Restart(ctx))
	require.Eventually(t, func() bool { return synced.n.Load() == 1 }, waitFor, 20*time.Millisecond)
	require.Len(t, list(t, c, prefix+"/"), 201)
}
