package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

// The sizes default to what `make bench` can afford on a shared 2-core
// machine; the scale is -watch.keys=100000 -watch.events=100000 (or
// the environment variables HIVEKV_WATCH_KEYS / HIVEKV_WATCH_EVENTS).
var (
	watchKeys   = flag.Int("watch.keys", envInt("HIVEKV_WATCH_KEYS", 20000), "keys of the initial-sync benchmark")
	watchEvents = flag.Int("watch.events", envInt("HIVEKV_WATCH_EVENTS", 20000), "puts per run of the event-throughput benchmark")
)

const (
	// watchPageSize is etcd.limit's default: ours and raw read the same pages.
	watchPageSize = kvstore.DefaultListLimit
	// txnPuts is how many puts one write transaction carries (etcd accepts
	// 128 operations per transaction by default).
	txnPuts = 100
	// watchChanSize is the Events buffer of our watchers.
	watchChanSize = 128
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// syncData is the prefix holding *watchKeys keys of 256 bytes, written once
// per process and shared by every run of the initial-sync benchmark.
var syncData struct {
	once   sync.Once
	prefix string
	bytes  int64 // keys + values
	err    error
}

func syncPrefix(b *testing.B) (string, int64) {
	b.Helper()
	raw := rawClient(b)
	syncData.once.Do(func() {
		syncData.prefix = hivetest.UniquePrefix(b)
		syncData.bytes, syncData.err = putKeys(context.Background(), raw, syncData.prefix, 0, *watchKeys)
	})
	require.NoError(b, syncData.err)
	return syncData.prefix, syncData.bytes
}

// putKeys writes keys [from, to) under prefix with 256-byte values in
// transactions of txnPuts, and returns the bytes written.
func putKeys(ctx context.Context, raw *clientv3.Client, prefix string, from, to int) (int64, error) {
	var n int64
	ops := make([]clientv3.Op, 0, txnPuts)
	for i := from; i < to; i++ {
		k := fmt.Sprintf("%s%08d", prefix, i)
		n += int64(len(k) + len(value256))
		ops = append(ops, clientv3.OpPut(k, string(value256)))
		if len(ops) == txnPuts || i == to-1 {
			if _, err := raw.Txn(ctx).Then(ops...).Commit(); err != nil {
				return n, fmt.Errorf("writing keys before %d: %w", i, err)
			}
			ops = ops[:0]
		}
	}
	return n, nil
}

// BenchmarkWatchInitialSync lists *watchKeys keys of 256 B: ours through
// ListAndWatch up to ListDone, raw as clientv3 Gets of the same page size
// pinned to the first page's revision. One op is one key, so ns/op is the
// time per key; peak-heap-MB is the highest heap (live and not yet
// collected objects, sampled every millisecond) above the level before the
// sync, and heap/data relates it to the bytes of keys and values listed.
// The consumers keep nothing, so the heap is what the listing itself needs.
func BenchmarkWatchInitialSync(b *testing.B) {
	prefix, dataBytes := syncPrefix(b)
	ctx := context.Background()

	pair(b, func(b *testing.B) {
		c := ourClient(b)
		runSyncs(b, dataBytes, func() int {
			w := c.ListAndWatch(ctx, prefix, watchChanSize)
			defer w.Stop()
			n := 0
			for ev := range w.Events {
				if ev.Typ == kvstore.EventTypeListDone {
					return n
				}
				n++
			}
			b.Fatal("Events closed before ListDone")
			return n
		})
	}, func(b *testing.B) {
		raw := rawClient(b)
		runSyncs(b, dataBytes, func() int {
			n, err := rawPaginatedList(ctx, raw, prefix)
			if err != nil {
				b.Fatal(err)
			}
			return n
		})
	})
}

// rawPaginatedList is what a careful clientv3 user writes: pages of
// watchPageSize, every page after the first pinned to the first revision.
func rawPaginatedList(ctx context.Context, raw *clientv3.Client, prefix string) (int, error) {
	var (
		n   int
		rev int64
		key = prefix
		end = clientv3.GetPrefixRangeEnd(prefix)
	)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(watchPageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := raw.Get(ctx, key, opts...)
		if err != nil {
			return n, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		n += len(resp.Kvs)
		if !resp.More || len(resp.Kvs) == 0 {
			return n, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// runSyncs runs sync until b.N keys are covered (at least once) and reports
// per-key time, allocations and throughput, then the peak heap of one more
// sync (see measurePeakHeap).
func runSyncs(b *testing.B, dataBytes int64, sync func() int) {
	b.Helper()
	var (
		keys    int
		elapsed time.Duration
		allocs  allocCounter
	)
	b.ResetTimer()
	b.StopTimer()
	for keys == 0 || keys < b.N {
		allocs.start()
		start := time.Now()
		b.StartTimer()
		n := sync()
		b.StopTimer()
		elapsed += time.Since(start)
		allocs.stop()
		if n != *watchKeys {
			b.Fatalf("listed %d keys, want %d", n, *watchKeys)
		}
		keys += n
	}
	peak := measurePeakHeap(func() { sync() })
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(keys), "ns/op")
	allocs.report(b, keys)
	b.ReportMetric(float64(keys)/elapsed.Seconds(), "keys/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(peak)/float64(dataBytes), "heap/data")
}

// measurePeakHeap runs fn with the garbage collector at GOGC=5 and returns
// the highest heap seen above the level before fn. At the default GOGC the
// peak would mostly show how much garbage the collector lets pile up (up to
// the size of the live heap, which here includes the in-process etcd
// server); with collections this frequent it approaches the memory fn really
// holds at once. It is a separate, untimed run because the frequent
// collections slow fn down.
func measurePeakHeap(fn func()) uint64 {
	old := debug.SetGCPercent(5)
	defer debug.SetGCPercent(old)
	h := startHeapSampler()
	fn()
	return h.stop()
}

// allocCounter sums allocations over the timed sections, so that B/op and
// allocs/op are per key or event rather than per b.N.
type allocCounter struct {
	bytes, objects uint64
	ms             runtime.MemStats
}

func (a *allocCounter) start() {
	runtime.ReadMemStats(&a.ms)
	a.bytes -= a.ms.TotalAlloc
	a.objects -= a.ms.Mallocs
}

func (a *allocCounter) stop() {
	runtime.ReadMemStats(&a.ms)
	a.bytes += a.ms.TotalAlloc
	a.objects += a.ms.Mallocs
}

func (a *allocCounter) report(b *testing.B, ops int) {
	b.ReportMetric(float64(a.bytes)/float64(ops), "B/op")
	b.ReportMetric(float64(a.objects)/float64(ops), "allocs/op")
}

// BenchmarkWatchEventThroughput streams *watchEvents puts (256 B, in
// transactions of txnPuts) into a fresh prefix and measures until the
// consumer has received the last event: ours through ListAndWatch (after
// ListDone), raw through a clientv3 watch. One op is one event.
func BenchmarkWatchEventThroughput(b *testing.B) {
	ctx := context.Background()
	raw := rawClient(b)

	pair(b, func(b *testing.B) {
		c := ourClient(b)
		runStreams(b, raw, func(prefix string) (ready func(), next func() bool, stop func()) {
			w := c.ListAndWatch(ctx, prefix, watchChanSize)
			ready = func() {
				if ev := <-w.Events; ev.Typ != kvstore.EventTypeListDone {
					b.Fatalf("first event %v, want ListDone", ev.Typ)
				}
			}
			next = func() bool {
				_, ok := <-w.Events
				return ok
			}
			return ready, next, w.Stop
		})
	}, func(b *testing.B) {
		runStreams(b, raw, func(prefix string) (ready func(), next func() bool, stop func()) {
			wctx, cancel := context.WithCancel(ctx)
			ch := raw.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
			var pending int
			ready = func() { <-ch }
			next = func() bool {
				for pending == 0 {
					resp, ok := <-ch
					if !ok || resp.Err() != nil {
						return false
					}
					pending = len(resp.Events)
				}
				pending--
				return true
			}
			return ready, next, cancel
		})
	})
}

// runStreams writes *watchEvents puts into a fresh prefix per round, until
// b.N events are covered, and times each round from the first write to the
// consumer's last event.
func runStreams(b *testing.B, raw *clientv3.Client, watch func(prefix string) (ready func(), next func() bool, stop func())) {
	b.Helper()
	ctx := context.Background()
	var (
		events  int
		elapsed time.Duration
		allocs  allocCounter
	)
	b.ResetTimer()
	b.StopTimer()
	for events == 0 || events < b.N {
		prefix := hivetest.UniquePrefix(b)
		ready, next, stop := watch(prefix)
		ready()
		var writeErr atomic.Value
		allocs.start()
		start := time.Now()
		b.StartTimer()
		go func() {
			if _, err := putKeys(ctx, raw, prefix, 0, *watchEvents); err != nil {
				writeErr.Store(err)
			}
		}()
		for i := 0; i < *watchEvents; i++ {
			if !next() {
				b.Fatalf("watch ended after %d events (write error: %v)", i, writeErr.Load())
			}
		}
		b.StopTimer()
		elapsed += time.Since(start)
		allocs.stop()
		events += *watchEvents
		stop()
		if _, err := raw.Delete(ctx, prefix, clientv3.WithPrefix()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(events), "ns/op")
	allocs.report(b, events)
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
}

// heapSampler records the highest heap-objects size seen while it runs,
// above the level at its start (after a GC).
type heapSampler struct {
	base   uint64
	peak   atomic.Uint64
	quit   chan struct{}
	exited chan struct{}
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func readHeap() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapSampler() *heapSampler {
	runtime.GC()
	h := &heapSampler{base: readHeap(), quit: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(h.exited)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := readHeap(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-t.C:
			case <-h.quit:
				return
			}
		}
	}()
	return h
}

// stop ends the sampling and returns the peak growth over the start level.
func (h *heapSampler) stop() uint64 {
	close(h.quit)
	<-h.exited
	if v := readHeap(); v > h.peak.Load() {
		h.peak.Store(v)
	}
	if p := h.peak.Load(); p > h.base {
		return p - h.base
	}
	return 0
}
