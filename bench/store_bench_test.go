package bench

import (
	"context"
	"flag"
	"fmt"
	"path"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/store"
)

// storeKeys is the size of one end-to-end round of the shared-store
// benchmark (the perf harness's W11b uses 20,000).
var storeKeys = flag.Int("store.keys", envInt("HIVEKV_STORE_KEYS", 20000), "keys per round of the shared-store benchmark")

const (
	// storeBatch and storeInflight are the raw writer's shape, the perf
	// harness's floor: transactions of 128 puts, 4 in flight.
	storeBatch    = kvstore.MaxTxnOps
	storeInflight = 4
	// storeLeaseTTL is the data lease of the raw writer (Cilium's 15 min).
	storeLeaseTTL = 15 * 60
)

// BenchmarkStoreEndToEnd publishes *storeKeys keys of 256 B and measures
// from the first write until a reader on another client has seen every key
// and the writer's synced marker is written:
//
//   - ours: store.SyncStore on one client (its defaults: batched
//     transactions, lease, marker cilium/synced/<cluster>/<prefix>) and a
//     store.WatchStore (KVPairCreator) on another;
//   - raw: clientv3 puts on one lease in transactions of 128, 4 in flight,
//     then the marker; a clientv3 watch of the prefix counting events.
//
// One op is one key: ns/op is time per key, keys/s the end-to-end rate;
// peak-heap-MB is the highest heap above the level before one more round
// (in-process etcd server included, for both sides alike).
func BenchmarkStoreEndToEnd(b *testing.B) {
	pair(b, func(b *testing.B) {
		writer, reader := ourClient(b), ourClient(b)
		f := store.NewFactory(store.WithLogger(quietLogger()))
		runStoreRounds(b, func(prefix string) (start func() error, wait func()) {
			return oursStoreRound(b, f, writer, reader, prefix)
		})
	}, func(b *testing.B) {
		raw := rawClient(b)
		runStoreRounds(b, func(prefix string) (start func() error, wait func()) {
			return rawStoreRound(b, raw, prefix)
		})
	})
}

// oursStoreRound sets a round up (stores running, initial list in) and
// returns what starts the writes and what waits for the end.
func oursStoreRound(b *testing.B, f store.Factory, writer, reader kvstore.BackendOperations, prefix string) (func() error, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		seen   atomic.Int64
		all    = make(chan struct{})
		marker = make(chan struct{})
		wg     sync.WaitGroup
	)
	n := int64(*storeKeys)
	ws := f.NewWatchStore("bench", store.KVPairCreator, countingObserver{func() {
		if seen.Add(1) == n {
			close(all)
		}
	}})
	ss := f.NewSyncStore("bench", writer, prefix)
	wg.Go(func() { ws.Watch(ctx, reader, prefix) })
	wg.Go(func() { ss.Run(ctx) })
	for !ws.Synced() {
		time.Sleep(time.Millisecond)
	}
	start := func() error {
		for i := range *storeKeys {
			if err := ss.UpsertKey(ctx, &store.KVPair{Key: fmt.Sprintf("k%08d", i), Value: value256}); err != nil {
				return err
			}
		}
		return ss.Synced(ctx, func(context.Context) { close(marker) })
	}
	wait := func() {
		<-all
		<-marker
		cancel()
		wg.Wait()
		cleanupStore(b, prefix, path.Join(kvstore.SyncedPrefix, "bench", prefix))
	}
	return start, wait
}

type countingObserver struct{ onUpdate func() }

func (o countingObserver) OnUpdate(store.Key)      { o.onUpdate() }
func (o countingObserver) OnDelete(store.NamedKey) {}

// rawStoreRound is oursStoreRound with clientv3.
func rawStoreRound(b *testing.B, raw *clientv3.Client, prefix string) (func() error, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	lease, err := raw.Grant(ctx, storeLeaseTTL)
	if err != nil {
		b.Fatal(err)
	}
	wch := raw.Watch(ctx, prefix+"/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	<-wch // created
	all := make(chan struct{})
	go func() {
		defer close(all)
		seen := 0
		for resp := range wch {
			seen += len(resp.Events)
			if seen >= *storeKeys {
				return
			}
		}
	}()
	markerKey := path.Join(kvstore.SyncedPrefix, "bench", prefix)
	start := func() error {
		ops := make(chan []clientv3.Op, storeInflight)
		var (
			wg       sync.WaitGroup
			firstErr atomic.Value
		)
		for range storeInflight {
			wg.Go(func() {
				for batch := range ops {
					if _, err := raw.Txn(ctx).Then(batch...).Commit(); err != nil {
						firstErr.CompareAndSwap(nil, err)
					}
				}
			})
		}
		batch := make([]clientv3.Op, 0, storeBatch)
		for i := range *storeKeys {
			batch = append(batch, clientv3.OpPut(fmt.Sprintf("%s/k%08d", prefix, i), string(value256), clientv3.WithLease(lease.ID)))
			if len(batch) == storeBatch || i == *storeKeys-1 {
				ops <- batch
				batch = make([]clientv3.Op, 0, storeBatch)
			}
		}
		close(ops)
		wg.Wait()
		if err, ok := firstErr.Load().(error); ok {
			return err
		}
		_, err := raw.Put(ctx, markerKey, time.Now().UTC().Format(time.RFC3339), clientv3.WithLease(lease.ID))
		return err
	}
	wait := func() {
		<-all
		cancel()
		cleanupStore(b, prefix, markerKey)
		if _, err := raw.Revoke(context.Background(), lease.ID); err != nil {
			b.Fatal(err)
		}
	}
	return start, wait
}

// cleanupStore deletes a round's keys and marker.
func cleanupStore(b *testing.B, prefix, marker string) {
	raw := rawClient(b)
	ctx := context.Background()
	if _, err := raw.Delete(ctx, prefix+"/", clientv3.WithPrefix()); err != nil {
		b.Fatal(err)
	}
	if _, err := raw.Delete(ctx, marker); err != nil {
		b.Fatal(err)
	}
}

// runStoreRounds runs rounds until b.N keys are covered (at least one) and
// reports per-key time and allocations, keys/s, and the peak heap of one
// more round.
func runStoreRounds(b *testing.B, setup func(prefix string) (start func() error, wait func())) {
	b.Helper()
	var (
		keys    int
		elapsed time.Duration
		allocs  allocCounter
	)
	round := func(timed bool) {
		start, wait := setup(hivetest.UniquePrefix(b) + "store")
		if timed {
			allocs.start()
			b.StartTimer()
		}
		t0 := time.Now()
		if err := start(); err != nil {
			b.Fatal(err)
		}
		wait()
		if timed {
			b.StopTimer()
			elapsed += time.Since(t0)
			allocs.stop()
			keys += *storeKeys
		}
	}
	b.ResetTimer()
	b.StopTimer()
	for keys == 0 || keys < b.N {
		round(true)
	}
	peak := measurePeakHeap(func() { round(false) })
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(keys), "ns/op")
	allocs.report(b, keys)
	b.ReportMetric(float64(keys)/elapsed.Seconds(), "keys/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
