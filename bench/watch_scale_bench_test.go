package bench

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

// watchScale lists the numbers of known keys BenchmarkWatchScale runs at.
var watchScale = flag.String("watch.scale", envString("HIVEKV_WATCH_SCALE", "20000,200000"),
	"comma-separated numbers of keys a watcher knows before the scaling benchmark's events")

// scaleWriters is how many goroutines put the events, as the perf harness's
// W9 writer does: their keys reach the watcher out of order.
const scaleWriters = 16

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// BenchmarkWatchScale measures event delivery by a watcher that already
// knows many keys: ours through ListAndWatch after ListDone (its key set
// holds every listed key), raw through a clientv3 watch of the same prefix.
// Per size, the prefix is preloaded once with that many keys (16-byte
// values: the list is not what is measured); each round then creates
// *watchEvents new keys from scaleWriters goroutines, each value stamped
// with its send time, and times until the consumer has the last event. One
// op is one event: ns/op, B/op, allocs/op, cpu-ns/op (the process's CPU,
// in-process server included, the same for both sides), and the p50 and
// p99 of send-to-delivery latency. The round's keys are then deleted and
// their Delete events drained, untimed, so that every round creates keys
// into a set of the same size.
//
// A key set whose inserts cost more as it grows (a rebuild on the delivery
// path) shows as a p99 ratio that rises from the small size to the large.
func BenchmarkWatchScale(b *testing.B) {
	ctx := context.Background()
	raw := rawClient(b)
	ours := ourClient(b)
	for _, field := range strings.Split(*watchScale, ",") {
		known, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || known < 0 {
			b.Fatalf("-watch.scale: %q is not a number of keys", field)
		}
		prefix := hivetest.UniquePrefix(b)
		require.NoError(b, preloadSmall(ctx, raw, prefix, known))
		// The watchers live across the framework's calls of the
		// sub-benchmarks (a first one with b.N = 1, then the real one),
		// so that each lists the prefix once.
		var ourWatch, rawWatch scaleWatch
		b.Run(fmt.Sprintf("known=%d", known), func(b *testing.B) {
			pair(b, func(b *testing.B) {
				if ourWatch == nil {
					ourWatch = listAndWatch(b, ours, prefix, known)
				}
				scaleRounds(b, raw, ourWatch, prefix)
			}, func(b *testing.B) {
				if rawWatch == nil {
					rawWatch = rawWatchFrom(b, raw, prefix)
				}
				scaleRounds(b, raw, rawWatch, prefix)
			})
		})
		for _, w := range []scaleWatch{ourWatch, rawWatch} {
			if w != nil {
				w.stop()
			}
		}
		if _, err := raw.Delete(ctx, prefix, clientv3.WithPrefix()); err != nil {
			b.Fatal(err)
		}
	}
}

// preloadSmall writes n keys with 16-byte values under prefix.
func preloadSmall(ctx context.Context, raw *clientv3.Client, prefix string, n int) error {
	ops := make([]clientv3.Op, 0, txnPuts)
	for i := range n {
		ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s%08d", prefix, i), "0123456789abcdef"))
		if len(ops) == txnPuts || i == n-1 {
			if _, err := raw.Txn(ctx).Then(ops...).Commit(); err != nil {
				return fmt.Errorf("preloading keys before %d: %w", i, err)
			}
			ops = ops[:0]
		}
	}
	return nil
}

// scaleWatch is one side's watcher: next returns the next event's value and
// whether it is a Delete.
type scaleWatch interface {
	next() (value []byte, deleted, ok bool)
	stop()
}

type ourScaleWatch struct{ w *kvstore.Watcher }

func listAndWatch(b *testing.B, c kvstore.BackendOperations, prefix string, known int) scaleWatch {
	w := c.ListAndWatch(context.Background(), prefix, watchChanSize)
	n := 0
	for ev := range w.Events {
		if ev.Typ == kvstore.EventTypeListDone {
			if n != known {
				b.Fatalf("listed %d keys, want %d", n, known)
			}
			return ourScaleWatch{w}
		}
		n++
	}
	b.Fatal("Events closed before ListDone")
	return nil
}

func (o ourScaleWatch) next() ([]byte, bool, bool) {
	ev, ok := <-o.w.Events
	return ev.Value, ev.Typ == kvstore.EventTypeDelete, ok
}

func (o ourScaleWatch) stop() { o.w.Stop() }

type rawScaleWatch struct {
	ch      clientv3.WatchChan
	cancel  context.CancelFunc
	pending []*clientv3.Event
}

// rawWatchFrom watches prefix from now on, as a clientv3 user who listed it
// before would.
func rawWatchFrom(b *testing.B, raw *clientv3.Client, prefix string) scaleWatch {
	ctx, cancel := context.WithCancel(context.Background())
	ch := raw.Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	if resp, ok := <-ch; !ok || !resp.Created {
		cancel()
		b.Fatalf("raw watch not created: %v", resp.Err())
	}
	return &rawScaleWatch{ch: ch, cancel: cancel}
}

func (r *rawScaleWatch) next() ([]byte, bool, bool) {
	for len(r.pending) == 0 {
		resp, ok := <-r.ch
		if !ok || resp.Err() != nil {
			return nil, false, false
		}
		r.pending = resp.Events
	}
	ev := r.pending[0]
	r.pending = r.pending[1:]
	return ev.Kv.Value, ev.Type == clientv3.EventTypeDelete, true
}

func (r *rawScaleWatch) stop() { r.cancel() }

// scaleRounds runs rounds until b.N events are covered and reports the
// metrics per event.
func scaleRounds(b *testing.B, raw *clientv3.Client, w scaleWatch, prefix string) {
	ctx := context.Background()
	round := prefix + "w9/"
	perRound := *watchEvents
	if b.N == 1 {
		// The framework's first call, whose figures it discards when a
		// real run follows: a short round is warm-up enough.
		perRound = min(perRound, 1000)
	}
	var (
		events  int
		elapsed time.Duration
		cpu     time.Duration
		allocs  allocCounter
		lat     = make([]time.Duration, 0, perRound)
	)
	b.ResetTimer()
	b.StopTimer()
	for events == 0 || events < b.N {
		var wg sync.WaitGroup
		errs := make(chan error, scaleWriters)
		allocs.start()
		cpu -= cpuTime()
		start := time.Now()
		b.StartTimer()
		for g := range scaleWriters {
			wg.Go(func() {
				value := make([]byte, 256)
				for i := g; i < perRound; i += scaleWriters {
					binary.LittleEndian.PutUint64(value, uint64(time.Now().UnixNano()))
					if _, err := raw.Put(ctx, fmt.Sprintf("%s%08d", round, i), string(value)); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		for i := range perRound {
			v, deleted, ok := w.next()
			if !ok || deleted || len(v) < 8 {
				b.Fatalf("event %d: ok %v, deleted %v, %d-byte value", i, ok, deleted, len(v))
			}
			lat = append(lat, time.Duration(time.Now().UnixNano()-int64(binary.LittleEndian.Uint64(v))))
		}
		b.StopTimer()
		elapsed += time.Since(start)
		cpu += cpuTime()
		allocs.stop()
		events += perRound
		wg.Wait()
		close(errs)
		require.NoError(b, <-errs)
		// Back to the same number of known keys for the next round.
		if _, err := raw.Delete(ctx, round, clientv3.WithPrefix()); err != nil {
			b.Fatal(err)
		}
		for i := range perRound {
			if _, deleted, ok := w.next(); !ok || !deleted {
				b.Fatalf("draining: event %d of %d is not a Delete", i, perRound)
			}
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(events), "ns/op")
	allocs.report(b, events)
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "cpu-ns/op")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
