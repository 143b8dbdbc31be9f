package client_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
)

// Regression test for a crash: with ExtraOptions.Metrics set, an operation on
// a key that is not valid UTF-8 panicked inside Prometheus, which refuses
// label values that are not valid UTF-8 (for Update, after the write had
// landed). Keys are arbitrary bytes in etcd, so every operation must take
// them, and every scope label must be valid UTF-8.
//
// This file uses only the client package's public API so that it keeps
// compiling while the backends move between packages.

// invalidUTF8Keys returns keys that are not valid UTF-8, one per shape that
// GetScopeFromKey handles differently, each unique to this run so that tests
// can share a server.
func invalidUTF8Keys(t *testing.T) map[string]string {
	t.Helper()
	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	r := hex.EncodeToString(b[:])
	return map[string]string{
		// Four path elements or more: the scope is elements three and four.
		"deep": "cilium/state/\xff\xfe/v1/" + r,
		// Fewer than four elements, short: the scope is the whole key.
		"short": "u/\xff" + r[:4],
		// Fewer than four elements, long: the scope is cut at 12 bytes,
		// here in the middle of invalid bytes.
		"long": "u/" + r + "\xe9\xff\xfe\x80tail",
	}
}

// utf8TestClients returns one client of each backend, both with metrics
// registered in their own registry.
func utf8TestClients(t *testing.T) map[string]struct {
	c   kvstore.BackendOperations
	reg *prometheus.Registry
} {
	t.Helper()
	out := map[string]struct {
		c   kvstore.BackendOperations
		reg *prometheus.Registry
	}{}

	etcdReg := prometheus.NewRegistry()
	srv := hivetest.SharedServer(t)
	ec, errCh := client.NewClient(t.Context(), kvstore.EtcdBackendName,
		map[string]string{kvstore.EtcdAddrOption: strings.Join(srv.Endpoints(), ",")},
		&kvstore.ExtraOptions{Metrics: etcdReg})
	require.NotNil(t, ec)
	t.Cleanup(ec.Close)
	require.NoError(t, <-errCh)
	out[kvstore.EtcdBackendName] = struct {
		c   kvstore.BackendOperations
		reg *prometheus.Registry
	}{ec, etcdReg}

	memReg := prometheus.NewRegistry()
	mc, errCh := client.NewClient(t.Context(), kvstore.InMemoryBackendName,
		map[string]string{kvstore.InMemoryStoreOption: t.Name()},
		&kvstore.ExtraOptions{Metrics: memReg})
	require.NotNil(t, mc)
	t.Cleanup(mc.Close)
	require.NoError(t, <-errCh)
	out[kvstore.InMemoryBackendName] = struct {
		c   kvstore.BackendOperations
		reg *prometheus.Registry
	}{mc, memReg}
	return out
}

func TestMetricsInvalidUTF8Keys(t *testing.T) {
	t.Parallel()
	for backend, bc := range utf8TestClients(t) {
		t.Run(backend, func(t *testing.T) {
			for shape, key := range invalidUTF8Keys(t) {
				t.Run(shape, func(t *testing.T) {
					runInvalidUTF8Ops(t, bc.c, key)
					actions := gatheredScopes(t, bc.reg)
					for scope := range actions {
						require.True(t, utf8.ValidString(scope), "scope label %q is not valid UTF-8", scope)
					}
					if backend == kvstore.EtcdBackendName {
						// The etcd backend records every operation under
						// the key's scope, which must be the sanitized one.
						// (The in-memory backend records no metrics.)
						want := kvstore.GetScopeFromKey(key)
						require.True(t, utf8.ValidString(want))
						require.Subset(t, actions[want], []string{
							"Update", "Get", "UpdateIfDifferent", "CreateOnly", "ListPrefix",
							"ListAndWatch", "AcquireLock", "GetLocked", "UpdateIfLocked",
							"UpdateIfDifferentIfLocked", "ListPrefixLocked", "DeleteLocked",
							"CreateOnlyLocked", "Txn", "Delete", "DeletePrefix",
						}, "operations recorded under scope %q", want)
						// ReleaseLock is recorded under the scope of the
						// lock key (path/<lease hex>), checked above.
					}
				})
			}
		})
	}
}

// runInvalidUTF8Ops runs every key operation on key and checks that each one
// works: an invalid UTF-8 key is an ordinary key to the store.
func runInvalidUTF8Ops(t *testing.T, c kvstore.BackendOperations, key string) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	require.NoError(t, c.Update(ctx, key, []byte("v1"), false))
	v, err := c.Get(ctx, key)
	require.NoError(t, err)
	require.Equal(t, []byte("v1"), v)
	changed, err := c.UpdateIfDifferent(ctx, key, []byte("v2"), true)
	require.NoError(t, err)
	require.True(t, changed)
	created, err := c.CreateOnly(ctx, key, []byte("v3"), false)
	require.NoError(t, err)
	require.False(t, created)
	kvs, err := c.ListPrefix(ctx, key)
	require.NoError(t, err)
	require.Contains(t, kvs, key)

	// A watch of the key sees it in its list.
	w := c.ListAndWatch(ctx, key, 4)
	ev := <-w.Events
	require.Equal(t, kvstore.EventTypeCreate, ev.Typ)
	require.Equal(t, key, ev.Key)
	w.Stop()

	// The locked variants, under a lock on the key itself.
	lock, err := c.LockPath(ctx, key)
	require.NoError(t, err)
	v, err = c.GetIfLocked(ctx, key, lock)
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), v)
	require.NoError(t, c.UpdateIfLocked(ctx, key, []byte("v4"), false, lock))
	_, err = c.UpdateIfDifferentIfLocked(ctx, key, []byte("v5"), false, lock)
	require.NoError(t, err)
	_, err = c.ListPrefixIfLocked(ctx, key, lock)
	require.NoError(t, err)
	require.NoError(t, c.DeleteIfLocked(ctx, key, lock))
	created, err = c.CreateOnlyIfLocked(ctx, key, []byte("v6"), false, lock)
	require.NoError(t, err)
	require.True(t, created)
	require.NoError(t, lock.Unlock(ctx))

	// A transaction, where the backend has them.
	if tc, ok := c.(kvstore.Transactional); ok {
		resp, err := tc.Txn(ctx, kvstore.Txn{
			If:   []kvstore.Cmp{kvstore.CmpValue(key, []byte("v6"))},
			Then: []kvstore.Op{kvstore.OpPut(key, []byte("v7"), false), kvstore.OpGet(key)},
		})
		require.NoError(t, err)
		require.True(t, resp.Succeeded)
	}

	require.NoError(t, c.Delete(ctx, key))
	v, err = c.Get(ctx, key)
	require.NoError(t, err)
	require.Nil(t, v)
	require.NoError(t, c.Update(ctx, key, []byte("v8"), false))
	require.NoError(t, c.DeletePrefix(ctx, key))
	kvs, err = c.ListPrefix(ctx, key)
	require.NoError(t, err)
	require.Empty(t, kvs)
}

// gatheredScopes returns the value of every "scope" label in reg, with the
// "action" labels recorded under it. Gather itself fails on a label value
// that is not valid UTF-8.
func gatheredScopes(t *testing.T, reg prometheus.Gatherer) map[string][]string {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	scopes := map[string][]string{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var scope, action string
			hasScope := false
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "scope":
					scope, hasScope = l.GetValue(), true
				case "action":
					action = l.GetValue()
				}
			}
			if hasScope {
				scopes[scope] = append(scopes[scope], action)
			}
		}
	}
	return scopes
}
