package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/store"
)

func joinShared(t *testing.T, prefix string, v store.Observer) *store.SharedStore {
	t.Helper()
	log, _ := quietLogger()
	s, err := store.JoinSharedStore(store.Configuration{
		Prefix:                  prefix,
		KeyCreator:              store.KVPairCreator,
		Backend:                 etcdClient(t),
		Observer:                v,
		SynchronizationInterval: 50 * time.Millisecond,
		Logger:                  log,
	})
	require.NoError(t, err)
	t.Cleanup(s.Release)
	return s
}

func TestSharedStoreCollaborationOnEtcd(t *testing.T) {
	prefix := hivetest.UniquePrefix(t) + "shared"
	ctx := testCtx(t)
	v1, v2 := newView(), newView()
	s1 := joinShared(t, prefix, v1)
	s2 := joinShared(t, prefix, v2)
	require.NoError(t, s1.UpdateLocalKeySync(ctx, store.NewKVPair("one", "1")))
	require.NoError(t, s2.UpdateLocalKeySync(ctx, store.NewKVPair("two", "2")))
	both := map[string]string{"one": "1", "two": "2"}
	v1.equals(t, both)
	v2.equals(t, both)
	require.Equal(t, 2, s1.NumEntries())
	require.Len(t, s2.SharedKeysMap(), 2)

	// A local key deleted by someone else is re-created.
	_, err := hivetest.SharedServer(t).Client(t).Delete(ctx, prefix+"/one")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return list(t, etcdClient(t), prefix+"/one")[prefix+"/one"] == "1" }, waitFor, tick)
	v2.equals(t, both)

	// Close deletes the local keys; the others see them go.
	s1.Close(ctx)
	v2.equals(t, map[string]string{"two": "2"})
	var nilStore *store.SharedStore
	require.Zero(t, nilStore.NumEntries())
}

func TestSharedStoreBadConfiguration(t *testing.T) {
	c := etcdClient(t)
	for _, tc := range []struct {
		conf store.Configuration
		err  error
	}{
		{store.Configuration{KeyCreator: store.KVPairCreator, Backend: c}, store.ErrEmptyPrefix},
		{store.Configuration{Prefix: "p", Backend: c}, store.ErrNoKeyCreator},
		{store.Configuration{Prefix: "p", KeyCreator: store.KVPairCreator}, store.ErrNoBackend},
	} {
		_, err := store.JoinSharedStore(tc.conf)
		require.ErrorIs(t, err, tc.err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := store.JoinSharedStore(store.Configuration{Prefix: "p", KeyCreator: store.KVPairCreator, Backend: c, Context: ctx})
	require.ErrorIs(t, err, context.Canceled)
}
