package doublewrite_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/allocator/doublewrite"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/hivetest/conformance"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func kvBackend(t *testing.T, c kvstore.BackendOperations, base, node string) allocator.Backend {
	b, err := allocator.NewKVStoreBackend(allocator.KVStoreBackendConfig{BasePath: base, Suffix: node, Backend: c})
	require.NoError(t, err)
	return b
}

func newAlloc(t *testing.T, b allocator.Backend, opts ...allocator.Option) *allocator.Allocator {
	a, err := allocator.NewAllocator(b, append([]allocator.Option{allocator.WithMin(1), allocator.WithMax(10000), allocator.WithReleaseDelay(0)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	require.NoError(t, a.WaitForInitialSync(ctxFor(t)))
	return a
}

// A migration between two etcd servers: IDs allocated before double-writing
// are missing on the new side (Compare names them), the periodic sync and
// new allocations in flight fill it, and Compare ends empty.
func TestMigrationBetweenTwoServersConverges(t *testing.T) {
	ctx := ctxFor(t)
	oldSrv, newSrv := conformance.EtcdBackend(hivetest.SharedServer(t)), conformance.EtcdBackend(hivetest.StartServer(t))
	base := hivetest.UniquePrefix(t) + "ids"
	oldObs, newObs := kvBackend(t, oldSrv.New(t, nil, nil), base, ""), kvBackend(t, newSrv.New(t, nil, nil), base, "")

	before := newAlloc(t, kvBackend(t, oldSrv.New(t, nil, nil), base, "n0"))
	ids := map[string]allocator.ID{}
	for i := range 10 {
		key := fmt.Sprintf("old%d;", i)
		id, _, _, err := before.Allocate(ctx, key)
		require.NoError(t, err)
		ids[key] = id
	}
	before.Close()
	d, err := doublewrite.Compare(ctx, oldObs, newObs)
	require.NoError(t, err)
	require.False(t, d.Empty())
	require.Len(t, d.OnlyInA, 10)
	report := fmt.Sprintf("%+v", d)
	for key, id := range ids {
		require.Contains(t, report, fmt.Sprintf("ID %d only in A: %q", id, key))
	}

	// Every node now double-writes; n0 still holds its old keys.
	var wg sync.WaitGroup
	for n := range 2 {
		b := doublewrite.NewBackend(
			kvBackend(t, oldSrv.New(t, nil, nil), base, fmt.Sprintf("n%d", n)),
			kvBackend(t, newSrv.New(t, nil, nil), base, fmt.Sprintf("n%d", n)), false)
		a := newAlloc(t, b, allocator.WithSyncInterval(50*time.Millisecond))
		if n == 0 {
			for key, id := range ids {
				got, isNew, _, err := a.Allocate(ctx, key)
				require.NoError(t, err)
				require.Equal(t, id, got)
				require.False(t, isNew)
			}
		}
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					_, _, _, err := a.Allocate(ctx, fmt.Sprintf("new%d;", (i*3+g*7+n)%40))
					if err != nil {
						t.Errorf("allocate: %v", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		d, err := doublewrite.Compare(ctx, oldObs, newObs)
		return err == nil && d.Empty()
	}, time.Minute, 20*time.Millisecond)
}

// failingCreates fails CreateOnly and CreateOnlyIfLocked, as a secondary
// store that refuses writes.
type failingCreates struct{ kvstore.BackendOperations }

var errRefused = errors.New("refused")

func (failingCreates) CreateOnly(context.Context, string, []byte, bool) (bool, error) {
	return false, errRefused
}

func (failingCreates) CreateOnlyIfLocked(context.Context, string, []byte, bool, kvstore.KVLocker) (bool, error) {
	return false, errRefused
}

// noTxn hides Transactional: a store without transactions.
type noTxn struct{ kvstore.BackendOperations }

// Issue 23.12: a failure on the side not read from is best effort: the
// allocation succeeds, the failure is counted, and Compare shows what the
// sync must repair.
func TestFailureOnSideNotReadFromIsBestEffort(t *testing.T) {
	ctx := ctxFor(t)
	mem := conformance.InMemoryBackend()
	pc, sc := mem.New(t, nil, nil), mem.New(t, nil, nil)
	primary, secondary := kvBackend(t, pc, "p", "n"), kvBackend(t, failingCreates{sc}, "s", "n")
	m := doublewrite.NewMetrics()
	b := doublewrite.NewBackend(primary, secondary, false, doublewrite.WithMetrics(m))
	a := newAlloc(t, b)
	id, isNew, _, err := a.Allocate(ctx, "k;")
	require.NoError(t, err)
	require.True(t, isNew)
	require.Positive(t, testutil.ToFloat64(m.MirrorFailures.WithLabelValues("allocate_id")))
	d, err := doublewrite.Compare(ctx, primary, kvBackend(t, sc, "s", ""))
	require.NoError(t, err)
	require.Equal(t, []doublewrite.Entry{{ID: id, Key: "k;"}}, d.OnlyInA)
}

// An allocation refused by the side read from (here the secondary) is
// undone on the primary, with or without transactions there.
func TestReadSideFailureUndoesPrimary(t *testing.T) {
	for _, txn := range []bool{true, false} {
		ctx := ctxFor(t)
		mem := conformance.InMemoryBackend()
		pc, sc := mem.New(t, nil, nil), mem.New(t, nil, nil)
		pcli := pc
		if !txn {
			pcli = noTxn{pc}
		}
		primary := kvBackend(t, pcli, "p", "n")
		b := doublewrite.NewBackend(primary, kvBackend(t, failingCreates{sc}, "s", "n"), true)
		err := b.AllocateID(ctx, 5, "k;")
		require.ErrorIs(t, err, errRefused)
		key, err := primary.GetByID(ctx, 5)
		require.NoError(t, err)
		require.Empty(t, key, "txn=%v: the primary's master key was not undone", txn)

		a := newAlloc(t, b)
		// Allocate retries with backoff; a short deadline ends it.
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, _, _, err = a.Allocate(short, "k;")
		cancel()
		require.ErrorIs(t, err, errRefused)
		pairs, err := pc.ListPrefix(ctx, "p/")
		require.NoError(t, err)
		require.Empty(t, pairs, "txn=%v", txn)
	}
}

// Issue 23.12: the undo deletes a master key only while it names the key,
// also on a store without transactions.
func TestUndoIsConditionalWithoutTxn(t *testing.T) {
	ctx := ctxFor(t)
	c := conformance.InMemoryBackend().New(t, nil, nil)
	b := kvBackend(t, noTxn{c}, "p", "n")
	require.NoError(t, b.AllocateID(ctx, 5, "other;"))
	require.NoError(t, b.(allocator.IDDeleter).DeleteID(ctx, 5, "k;"))
	key, err := b.GetByID(ctx, 5)
	require.NoError(t, err)
	require.Equal(t, "other;", key)
	require.NoError(t, b.(allocator.IDDeleter).DeleteID(ctx, 5, "other;"))
	key, err = b.GetByID(ctx, 5)
	require.NoError(t, err)
	require.Empty(t, key)
}

// Reads come from the chosen side.
func TestReadsFromChosenSide(t *testing.T) {
	ctx := ctxFor(t)
	mem := conformance.InMemoryBackend()
	p, s := kvBackend(t, mem.New(t, nil, nil), "p", "n"), kvBackend(t, mem.New(t, nil, nil), "s", "n")
	require.NoError(t, p.AllocateID(ctx, 1, "only-primary;"))
	require.NoError(t, s.AllocateID(ctx, 2, "only-secondary;"))
	for _, fromSecondary := range []bool{false, true} {
		b := doublewrite.NewBackend(p, s, fromSecondary)
		k1, err := b.GetByID(ctx, 1)
		require.NoError(t, err)
		k2, err := b.GetByID(ctx, 2)
		require.NoError(t, err)
		require.Equal(t, fromSecondary, k1 == "" && k2 == "only-secondary;")
		require.Equal(t, !fromSecondary, k1 == "only-primary;" && k2 == "")
	}
	d, err := doublewrite.Compare(ctx, p, s)
	require.NoError(t, err)
	require.Equal(t, "1 only in A, 1 only in B, 0 differ", d.String())
}
