package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/hivetest"
)

// The allocator benchmarks compare allocator.Allocator with the floor of
// the work: raw clientv3 sending exactly the transaction of our
// one-round-trip path per allocation (same compares, same writes, same
// reads in Else and Then), with no cache, no watch, no local bookkeeping and
// IDs from a counter, on the same server in the same run. Keys are shaped like
// Cilium's identity label strings.

const allocMaxID = 1 << 24

func allocKey(set string, i int) string {
	return fmt.Sprintf("k8s:app=bench-%s-%07d;k8s:io.kubernetes.pod.namespace=default;", set, i)
}

// benchAllocator opens an Allocator for node on a fresh client, synced.
func benchAllocator(b *testing.B, base, node string) *allocator.Allocator {
	b.Helper()
	be, err := allocator.NewKVStoreBackend(allocator.KVStoreBackendConfig{BasePath: base, Suffix: node, Backend: ourClient(b)})
	require.NoError(b, err)
	a, err := allocator.NewAllocator(be, allocator.WithMin(1), allocator.WithMax(allocMaxID),
		allocator.WithLogger(quietLogger()))
	require.NoError(b, err)
	b.Cleanup(a.Close)
	require.NoError(b, a.WaitForInitialSync(context.Background()))
	return a
}

// rawAllocator is the floor: one transaction per allocation.
type rawAllocator struct {
	cli   *clientv3.Client
	lease clientv3.LeaseID
	base  string
	next  atomic.Uint64
}

func newRawAllocator(b *testing.B, base string) *rawAllocator {
	raw := rawClient(b)
	s, err := concurrency.NewSession(raw, concurrency.WithTTL(900))
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	return &rawAllocator{cli: raw, lease: s.Lease(), base: base}
}

// create is our create transaction, with the ID from a counter.
func (r *rawAllocator) create(ctx context.Context, key, node string) error {
	id := strconv.FormatUint(r.next.Add(1), 10)
	master, slaves := r.base+"/id/"+id, r.base+"/value/"+key+"/"
	resp, err := r.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(master), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(slaves), "=", 0).WithPrefix(),
			clientv3.Compare(clientv3.CreateRevision(r.base+"/locks/"+key+"/"), "=", 0).WithPrefix()).
		Then(clientv3.OpPut(master, key), clientv3.OpPut(slaves+node, id, clientv3.WithLease(r.lease))).
		Else(clientv3.OpGet(master), clientv3.OpGet(slaves, clientv3.WithPrefix(), clientv3.WithLimit(1)),
			clientv3.OpGet(r.base+"/locks/"+key+"/", clientv3.WithPrefix(), clientv3.WithLimit(1))).
		Commit()
	if err == nil && !resp.Succeeded {
		err = fmt.Errorf("raw create of %q did not apply", key)
	}
	return err
}

// reference is our reference transaction.
func (r *rawAllocator) reference(ctx context.Context, id uint64, key, node string) error {
	ids := strconv.FormatUint(id, 10)
	master, slaves, locks := r.base+"/id/"+ids, r.base+"/value/"+key+"/", r.base+"/locks/"+key+"/"
	resp, err := r.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(master), "=", key),
			clientv3.Compare(clientv3.CreateRevision(locks), "=", 0).WithPrefix(),
			clientv3.Compare(clientv3.Value(slaves), "=", ids).WithPrefix()).
		Then(clientv3.OpPut(slaves+node, ids, clientv3.WithLease(r.lease))).
		Commit()
	if err == nil && !resp.Succeeded {
		err = fmt.Errorf("raw reference of %q did not apply", key)
	}
	return err
}

// parallel runs fn(i) for i in [0, n) on callers goroutines.
func parallel(b *testing.B, callers, n int, fn func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() != nil {
					return
				}
				if err := fn(i); err != nil {
					failed.Store(&err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if p := failed.Load(); p != nil {
		b.Fatal(*p)
	}
}

// benchRun numbers the runs of a benchmark function (go test calls it
// more than once), so that each run allocates keys of its own.
var benchRun atomic.Int64

func benchNewKeys(b *testing.B, callers int) {
	ctx := context.Background()
	prefix := hivetest.UniquePrefix(b)
	pair(b, func(b *testing.B) {
		base := prefix + "ours"
		a := benchAllocator(b, base, "node1")
		set := "ours" + strconv.FormatInt(benchRun.Add(1), 10)
		b.ReportAllocs()
		b.ResetTimer()
		parallel(b, callers, b.N, func(i int) error {
			_, isNew, _, err := a.Allocate(ctx, allocKey(set, i))
			if err == nil && !isNew {
				err = fmt.Errorf("key %d: not new", i)
			}
			return err
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "allocs/s")
	}, func(b *testing.B) {
		r := newRawAllocator(b, prefix+"raw"+strconv.FormatInt(benchRun.Add(1), 10))
		set := "raw"
		b.ReportAllocs()
		b.ResetTimer()
		parallel(b, callers, b.N, func(i int) error { return r.create(ctx, allocKey(set, i), "node1") })
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "allocs/s")
	})
}

// BenchmarkAllocatorNewKey: one caller allocates new keys.
func BenchmarkAllocatorNewKey(b *testing.B) { benchNewKeys(b, 1) }

// BenchmarkAllocatorNewKey32: 32 callers on one Allocator allocate new keys.
func BenchmarkAllocatorNewKey32(b *testing.B) { benchNewKeys(b, 32) }

// preload gives n keys IDs 1..n as node "node1" did, with raw batches.
func preload(b *testing.B, base string, n int) {
	raw := rawClient(b)
	ctx := context.Background()
	for start := 0; start < n; start += 60 {
		var ops []clientv3.Op
		for i := start; i < min(n, start+60); i++ {
			key, id := allocKey("reuse", i), strconv.Itoa(i+1)
			ops = append(ops, clientv3.OpPut(base+"/id/"+id, key), clientv3.OpPut(base+"/value/"+key+"/node1", id))
		}
		_, err := raw.Txn(ctx).Then(ops...).Commit()
		require.NoError(b, err)
	}
}

func benchReuse(b *testing.B, callers int) {
	ctx := context.Background()
	prefix := hivetest.UniquePrefix(b)
	pair(b, func(b *testing.B) {
		base := prefix + "ours" + strconv.Itoa(b.N)
		preload(b, base, b.N)
		a := benchAllocator(b, base, "node2")
		b.ReportAllocs()
		b.ResetTimer()
		parallel(b, callers, b.N, func(i int) error {
			id, isNew, _, err := a.Allocate(ctx, allocKey("reuse", i))
			if err == nil && (isNew || id != allocator.ID(i+1)) {
				err = fmt.Errorf("key %d: got ID %d isNew %v", i, id, isNew)
			}
			return err
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "allocs/s")
	}, func(b *testing.B) {
		base := prefix + "raw" + strconv.Itoa(b.N)
		preload(b, base, b.N)
		r := newRawAllocator(b, base)
		b.ReportAllocs()
		b.ResetTimer()
		parallel(b, callers, b.N, func(i int) error { return r.reference(ctx, uint64(i+1), allocKey("reuse", i), "node2") })
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "allocs/s")
	})
}

// BenchmarkAllocatorReuse: a second node takes references to existing IDs.
func BenchmarkAllocatorReuse(b *testing.B) { benchReuse(b, 1) }

// BenchmarkAllocatorReuse32: the same with 32 callers.
func BenchmarkAllocatorReuse32(b *testing.B) { benchReuse(b, 32) }
