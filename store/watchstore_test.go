package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/store"
)

// strictKey refuses values starting with "!".
type strictKey struct{ store.KVPair }

func (k *strictKey) Unmarshal(name string, data []byte) error {
	if len(data) > 0 && data[0] == '!' {
		return errors.New("bad value")
	}
	return k.KVPair.Unmarshal(name, data)
}

func strictCreator() store.Key { return &strictKey{} }

// strictView is a view of strictKeys.
type strictView struct{ *view }

func (v strictView) OnUpdate(k store.Key) { v.view.OnUpdate(&k.(*strictKey).KVPair) }

func TestWatchStoreRestartDeletesStaleKeys(t *testing.T) {
	_, c := newMemory(t)
	ctx := testCtx(t)
	log, hook := quietLogger()
	v := newView()
	var synced counter
	ws := store.NewFactory(store.WithLogger(log)).NewWatchStore("c1", strictCreator, strictView{v},
		store.RWSWithOnSyncCallback(synced.inc))

	put := func(k, val string) { require.NoError(t, c.Update(ctx, k, []byte(val), false)) }
	put("w/c1/a", "1")
	put("w/c1/b", "1")
	put("w/c10/x", "sibling") // must not be seen: "/" is appended
	put("w/c1/bad", "!")      // fails to unmarshal: logged, dropped

	stop := run(t, func(ctx context.Context) { ws.Watch(ctx, c, "w/c1") })
	require.Eventually(t, ws.Synced, waitFor, tick)
	v.equals(t, map[string]string{"a": "1", "b": "1"})
	require.True(t, hasLogMsg(hook, "Unable to unmarshal value: dropping it"))
	put("w/c1/c", "1")
	put("w/c1/a", "2")
	v.equals(t, map[string]string{"a": "2", "b": "1", "c": "1"})
	require.NoError(t, c.Delete(ctx, "w/c1/c"))
	v.equals(t, map[string]string{"a": "2", "b": "1"})
	require.Equal(t, uint64(2), ws.NumEntries())

	// A second Watch while the first runs is refused.
	ws.Watch(ctx, c, "w/c1")
	require.True(t, hasLog(hook, store.ErrAlreadyRunning))
	ws.Drain()
	require.Equal(t, uint64(2), ws.NumEntries(), "Drain while watching does nothing")

	stop()
	require.False(t, ws.Synced())

	// While away: b deleted, d created, a changed.
	require.NoError(t, c.Delete(ctx, "w/c1/b"))
	put("w/c1/d", "1")
	put("w/c1/a", "3")
	v.mu.Lock()
	v.log = nil
	v.mu.Unlock()
	run(t, func(ctx context.Context) { ws.Watch(ctx, c, "w/c1") })
	require.Eventually(t, ws.Synced, waitFor, tick)
	v.equals(t, map[string]string{"a": "3", "d": "1"})
	v.mu.Lock()
	require.ElementsMatch(t, []string{"update a=3", "update d=1", "delete b"}, v.log)
	v.mu.Unlock()
	require.Equal(t, int64(1), synced.n.Load(), "sync callbacks run once, at the first ListDone")
}

func TestWatchStoreDrain(t *testing.T) {
	_, c := newMemory(t)
	ctx := testCtx(t)
	log, _ := quietLogger()
	v := newView()
	ws := store.NewFactory(store.WithLogger(log)).NewWatchStore("c1", store.KVPairCreator, v)
	require.NoError(t, c.Update(ctx, "w/a", []byte("1"), false))
	require.NoError(t, c.Update(ctx, "w/b", []byte("1"), false))
	stop := run(t, func(ctx context.Context) { ws.Watch(ctx, c, "w/") })
	v.equals(t, map[string]string{"a": "1", "b": "1"})
	stop()
	ws.Drain()
	require.Equal(t, map[string]string{}, v.snapshot())
	require.Equal(t, 2, v.deletes)
	require.Zero(t, ws.NumEntries())
	ws.Drain() // nothing left: no calls
	require.Equal(t, 2, v.deletes)
}

func TestWatchStoreSyncCallbackNotRunBeforeListDone(t *testing.T) {
	log, hook := quietLogger()
	var synced counter
	ws := store.NewFactory(store.WithLogger(log)).NewWatchStore("c1", store.KVPairCreator, newView(),
		store.RWSWithOnSyncCallback(synced.inc))
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	_, c := newMemory(t)
	ws.Watch(ctx, c, "w/") // ends before its ListDone
	require.Zero(t, synced.n.Load())
	require.False(t, ws.Synced())

	bad := store.NewFactory(store.WithLogger(log)).NewWatchStore("c1", nil, newView())
	bad.Watch(testCtx(t), c, "w/") // returns at once
	require.True(t, hasLog(hook, store.ErrNoKeyCreator))
}

func TestWatchStoreManager(t *testing.T) {
	_, c := newMemory(t)
	ctx := testCtx(t)
	log, hook := quietLogger()
	f := store.NewFactory(store.WithLogger(log))
	var foo, bar counter
	m := f.NewWatchStoreManager(c, "c1")
	m.Register("cilium/state/foo/v1", foo.inc)
	m.Register("cilium/state/bar/v1", bar.inc)
	stop := run(t, m.Run)
	require.Eventually(t, func() bool { return hasLogMsg(hook, "Starting restartable watch store") }, waitFor, tick)
	m.Register("late", foo.inc)
	require.True(t, hasLog(hook, store.ErrManagerStarted))

	put := func(k string) { require.NoError(t, c.Update(ctx, k, []byte("2026-12-01T00:00:00Z"), false)) }
	put("cilium/synced/c1/cilium/state/foo/v1")
	put("cilium/synced/c2/cilium/state/bar/v1") // another cluster's marker
	put("cilium/synced/c1/unregistered")
	require.Eventually(t, func() bool { return foo.n.Load() == 1 }, waitFor, tick)
	put("cilium/synced/c1/cilium/state/foo/v1") // rewritten: not started again
	put("cilium/synced/c1/cilium/state/bar/v1")
	require.Eventually(t, func() bool { return bar.n.Load() == 1 }, waitFor, tick)
	stop()
	require.Equal(t, int64(1), foo.n.Load())
	require.Equal(t, int64(1), bar.n.Load())

	im := store.NewWatchStoreManagerImmediate("c1")
	var a, b counter
	im.Register("a", a.inc)
	im.Register("b", b.inc)
	stop = run(t, im.Run)
	require.Eventually(t, func() bool { return a.n.Load() == 1 && b.n.Load() == 1 }, waitFor, tick)
	stop()
}
