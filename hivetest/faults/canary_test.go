package faults

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
)

// The canaries run the KV workload against the in-memory backend, once as
// it is and once with a bug planted between the workers and the backend,
// to show that the checkers accept a correct store and catch broken ones.

// dropsWrites acknowledges every third Update without sending it.
type dropsWrites struct {
	kvstore.BackendOperations
	mu sync.Mutex
	n  int
}

func (d *dropsWrites) Update(ctx context.Context, key string, value []byte, lease bool) error {
	d.mu.Lock()
	d.n++
	drop := d.n%3 == 0
	d.mu.Unlock()
	if drop {
		return nil
	}
	return d.BackendOperations.Update(ctx, key, value, lease)
}

// readsStale answers every other Get with the value of the Get before.
type readsStale struct {
	kvstore.BackendOperations
	mu   sync.Mutex
	n    int
	last map[string][]byte
}

func (s *readsStale) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.BackendOperations.Get(ctx, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	prev, seen := s.last[key]
	s.last[key] = v
	if err == nil && seen && s.n%2 == 0 {
		return prev, nil
	}
	return v, err
}

// memoryHistory runs three KV workers for half a second against a fresh
// in-memory store seen through plant, then reads every key through the
// store itself, and returns the history.
func memoryHistory(t *testing.T, plant func(kvstore.BackendOperations) kvstore.BackendOperations) []Op {
	t.Helper()
	opts := map[string]string{kvstore.InMemoryStoreOption: hivetest.UniquePrefix(t)}
	b, errCh := client.NewClient(t.Context(), kvstore.InMemoryBackendName, opts, nil)
	require.NoError(t, <-errCh)
	t.Cleanup(b.Close)
	rec := NewRecorder()
	keys := []string{"k0", "k1", "k2"}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	var g group
	for i := range 3 {
		c := rec.Wrap(i, plant(b))
		g.Go(func() { KVWorker(ctx, 42, i, keys, func() *Client { return c }) })
	}
	g.Wait()
	final := rec.Wrap(FinalWorker, b)
	for _, k := range keys {
		_, err := final.Get(t.Context(), k)
		require.NoError(t, err)
	}
	return rec.Ops()
}

func TestCanaryCorrectStorePasses(t *testing.T) {
	ops := memoryHistory(t, func(b kvstore.BackendOperations) kvstore.BackendOperations { return b })
	require.Greater(t, len(ops), 30, "the workload ran")
	require.NoError(t, CheckLinearizable(ops, time.Minute, ""))
	require.NoError(t, CheckNoLostWrites(ops, FinalWorker))
}

func TestCanaryLostWritesCaught(t *testing.T) {
	ops := memoryHistory(t, func(b kvstore.BackendOperations) kvstore.BackendOperations {
		return &dropsWrites{BackendOperations: b}
	})
	html := filepath.Join(t.TempDir(), "lost.html")
	require.ErrorIs(t, CheckLinearizable(ops, time.Minute, html), ErrViolation)
	require.FileExists(t, html)
}

func TestCanaryStaleReadsCaught(t *testing.T) {
	ops := memoryHistory(t, func(b kvstore.BackendOperations) kvstore.BackendOperations {
		return &readsStale{BackendOperations: b, last: map[string][]byte{}}
	})
	require.ErrorIs(t, CheckLinearizable(ops, time.Minute, ""), ErrViolation)
}
