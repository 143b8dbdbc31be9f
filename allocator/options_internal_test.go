package allocator

import (
	"context"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/client/memory"
)

// Issue 21.4: NewAllocator runs no GC unless asked (agents must not GC),
// and WithoutGC means what it means in Cilium: no local key sync.
func TestOptionsMeanWhatCiliumsMean(t *testing.T) {
	c := memory.NewStore().NewClient(nil)
	t.Cleanup(c.Close)
	b, err := NewKVStoreBackend(KVStoreBackendConfig{BasePath: "ids", Suffix: "n", Backend: c})
	require.NoError(t, err)

	o := defaultOptions()
	require.Zero(t, o.gcInterval, "no periodic GC by default")
	require.False(t, o.noLocalSync)
	require.Equal(t, ID(256), o.min)
	require.Equal(t, ID(65535), o.max)

	WithoutGC()(&o)
	require.True(t, o.noLocalSync)
	require.Zero(t, o.gcInterval)

	// The local key sync is off: a slave key deleted behind the
	// Allocator's back is not re-created by its periodic sync.
	a, err := NewAllocator(b, WithMin(1), WithMax(10), WithoutGC(), WithSyncInterval(1))
	require.NoError(t, err)
	t.Cleanup(a.Close)
	require.True(t, a.opts.noLocalSync)
	ctx := context.Background()
	_, _, _, err = a.Allocate(ctx, "k;")
	require.NoError(t, err)
	require.NoError(t, c.Delete(ctx, "ids/value/k;/n"))
	a.Close() // waits for every background goroutine: none re-created it
	v, err := c.Get(ctx, "ids/value/k;/n")
	require.NoError(t, err)
	require.Nil(t, v)
}

// The backend logs through the logger of its config, not logrus' standard
// logger.
func TestBackendLogsThroughItsLogger(t *testing.T) {
	c := memory.NewStore().NewClient(nil)
	t.Cleanup(c.Close)
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	std := logtest.NewGlobal()
	b, err := NewKVStoreBackend(KVStoreBackendConfig{BasePath: "ids", Suffix: "n", Backend: c, Log: log})
	require.NoError(t, err)
	require.NoError(t, b.UpdateKey(context.Background(), 7, "k;", true))
	require.NotEmpty(t, hook.AllEntries())
	require.Empty(t, std.AllEntries())
	require.Equal(t, "allocator-backend", hook.LastEntry().Data["subsys"])
}
