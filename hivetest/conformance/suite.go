package conformance

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/client/memory"
	"github.com/hivekv/kvstore/hivetest"
)

// Backend is what the conformance suite needs of a backend: clients, and the
// two server-side interventions a test cannot make through the kvstore API.
type Backend struct {
	// Name labels the backend in test names and messages.
	Name string
	// New returns a connected client; all clients of one Backend share one
	// store; closed at t cleanup. opts are backend options (the
	// --kvstore-opt map) on top of what the Backend sets itself; extra may
	// be nil.
	New func(t testing.TB, opts map[string]string, extra *kvstore.ExtraOptions) kvstore.BackendOperations
	// RevokeLease revokes lease id on the server, as if it had expired.
	RevokeLease func(t testing.TB, id int64)
	// Compact compacts the history up to the current revision.
	Compact func(t testing.TB)
}

// Case is one conformance test. Run isolates its keys under
// hivetest.UniquePrefix(t), so that cases can share a server.
type Case struct {
	Name string
	Run  func(t *testing.T, b Backend)
}

// Run runs every conformance case against b, one subtest per
// group (kv, lease, lock, watch, txn, edge) and case. A backend that passes behaves
// like the etcd backend as far as code written against
// kvstore.BackendOperations can tell.
func Run(t *testing.T, b Backend) {
	groups := []struct {
		name  string
		cases []Case
	}{
		{"kv", kvCases()},
		{"lease", leaseCases()},
		{"lock", lockCases()},
		{"watch", watchCases()},
		{"txn", txnCases()},
		{"edge", edgeCases()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.Name, func(t *testing.T) { c.Run(t, b) })
			}
		})
	}
}

// connectTimeout bounds the wait for a conformance client to connect.
const connectTimeout = 30 * time.Second

// conformanceQPS lifts the etcd client's rate limit (20 by default) so that
// the cases writing a thousand keys take a second, not a minute.
const conformanceQPS = "10000"

// EtcdBackend runs the suite on etcd clients of s (TLS and authentication as
// s was started with).
func EtcdBackend(s *hivetest.Server) Backend {
	return Backend{
		Name: kvstore.EtcdBackendName,
		New: func(t testing.TB, opts map[string]string, extra *kvstore.ExtraOptions) kvstore.BackendOperations {
			t.Helper()
			merged := s.KVStoreOptions(t)
			merged[kvstore.EtcdRateLimitOption] = conformanceQPS
			maps.Copy(merged, opts)
			c, errCh := client.NewClient(context.Background(), kvstore.EtcdBackendName, merged, extra)
			if c != nil {
				t.Cleanup(c.Close)
			}
			select {
			case err, ok := <-errCh:
				if ok && err != nil {
					t.Fatalf("conformance: connecting the etcd client: %v", err)
				}
			case <-time.After(connectTimeout):
				t.Fatalf("conformance: etcd client not connected within %s", connectTimeout)
			}
			return c
		},
		RevokeLease: func(t testing.TB, id int64) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
			defer cancel()
			if _, err := s.Client(t).Revoke(ctx, clientv3.LeaseID(id)); err != nil {
				t.Fatalf("conformance: revoke lease %x: %v", id, err)
			}
		},
		Compact: func(t testing.TB) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
			defer cancel()
			raw := s.Client(t)
			resp, err := raw.Get(ctx, "hivetest/compact")
			if err != nil {
				t.Fatalf("conformance: compact: read revision: %v", err)
			}
			if _, err := raw.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
				t.Fatalf("conformance: compact to %d: %v", resp.Header.Revision, err)
			}
		},
	}
}

// InMemoryBackend runs the suite on the in-memory backend. Each call makes a
// fresh private store that the clients of this Backend value share. opts are
// ignored: the only in-memory option names a store.
func InMemoryBackend() Backend {
	store := memory.NewStore()
	return Backend{
		Name: kvstore.InMemoryBackendName,
		New: func(t testing.TB, _ map[string]string, extra *kvstore.ExtraOptions) kvstore.BackendOperations {
			c := store.NewClient(extra)
			t.Cleanup(c.Close)
			return c
		},
		RevokeLease: func(t testing.TB, id int64) {
			t.Helper()
			if !store.RevokeLease(id) {
				t.Fatalf("conformance: revoke lease %x: requested lease not found", id)
			}
		},
		Compact: func(testing.TB) { store.Compact() },
	}
}

// opTimeout bounds every operation of a case, so that a hanging backend
// fails the case instead of the whole test binary.
const opTimeout = 30 * time.Second

// caseCtx returns a ctx for the operations of a case.
func caseCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newCaseClient returns a client with default options whose keys under
// prefix are deleted when the case ends (before the client is closed).
func newCaseClient(t testing.TB, b Backend, prefix string) kvstore.BackendOperations {
	return newCaseClientWith(t, b, prefix, nil, nil)
}

func newCaseClientWith(t testing.TB, b Backend, prefix string, opts map[string]string, extra *kvstore.ExtraOptions) kvstore.BackendOperations {
	t.Helper()
	c := b.New(t, opts, extra)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		// Best effort: the case may have closed the client itself.
		_ = c.DeletePrefix(ctx, prefix)
	})
	return c
}

// keyf builds a key under prefix.
func keyf(prefix, format string, args ...any) string {
	return prefix + fmt.Sprintf(format, args...)
}
