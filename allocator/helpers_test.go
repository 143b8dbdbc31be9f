package allocator_test

import (
	"context"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/hivetest/conformance"
)

const testTimeout = time.Minute

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// kit makes clients of one store: the shared etcd or a private in-memory
// store.
type kit struct {
	name   string
	b      conformance.Backend
	newCli func(t testing.TB) kvstore.BackendOperations
}

func etcdKit(t testing.TB) kit {
	b := conformance.EtcdBackend(hivetest.SharedServer(t))
	return kit{name: "etcd", b: b, newCli: func(t testing.TB) kvstore.BackendOperations { return b.New(t, nil, nil) }}
}

func memKit() kit {
	b := conformance.InMemoryBackend()
	return kit{name: "in-memory", b: b, newCli: func(t testing.TB) kvstore.BackendOperations { return b.New(t, nil, nil) }}
}

// forEachKit runs fn on both backends.
func forEachKit(t *testing.T, fn func(t *testing.T, k kit)) {
	for _, k := range []kit{memKit(), etcdKit(t)} {
		t.Run(k.name, func(t *testing.T) { fn(t, k) })
	}
}

// basePath returns a base path no other test uses.
func basePath(t testing.TB) string { return hivetest.UniquePrefix(t) + "ids" }

func newBackend(t testing.TB, c kvstore.BackendOperations, base, node string) allocator.Backend {
	t.Helper()
	b, err := allocator.NewKVStoreBackend(allocator.KVStoreBackendConfig{BasePath: base, Suffix: node, Backend: c})
	require.NoError(t, err)
	return b
}

// newAllocator returns a synced Allocator without GC, closed at cleanup.
func newAllocator(t testing.TB, c kvstore.BackendOperations, base, node string, opts ...allocator.Option) *allocator.Allocator {
	t.Helper()
	opts = append([]allocator.Option{allocator.WithMin(1), allocator.WithMax(100000), allocator.WithReleaseDelay(0)}, opts...)
	a, err := allocator.NewAllocator(newBackend(t, c, base, node), opts...)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	require.NoError(t, a.WaitForInitialSync(testCtx(t)))
	return a
}

// listStrings returns the keys under prefix with their values.
func listStrings(t testing.TB, c kvstore.BackendOperations, prefix string) map[string]string {
	t.Helper()
	pairs, err := c.ListPrefix(testCtx(t), prefix)
	require.NoError(t, err)
	out := make(map[string]string, len(pairs))
	for k, v := range pairs {
		out[k] = string(v.Data)
	}
	return out
}

// quiet is a logger for hives in tests: warnings and worse only.
func quiet() *logrus.Logger {
	l := logrus.New()
	l.SetLevel(logrus.WarnLevel)
	return l
}
