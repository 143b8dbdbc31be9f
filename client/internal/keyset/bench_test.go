package keyset

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// BenchmarkWatchCreate measures a watch Create (a key not known yet, from
// writers whose keys arrive out of order) with n keys known: time per event,
// the slowest single event, and the set's heap per key. The slowest event
// is what a rebuild on the delivery path would show.
func BenchmarkWatchCreate(b *testing.B) {
	for _, n := range []int{20_000, 200_000, 1_000_000} {
		b.Run(fmt.Sprintf("known=%d", n), func(b *testing.B) {
			keys := benchKeys(n, "perf/hv1/w8/")
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var s Set
			s.UsePrefix("perf/hv1/w8/")
			s.StartList()
			s.Reserve(n)
			for _, k := range keys {
				s.See(k)
			}
			s.Sweep(func(string) bool { return true })
			runtime.GC()
			runtime.ReadMemStats(&after)
			fresh := benchKeys(b.N, "perf/hv1/w8/w9/")
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(fresh), func(i, j int) { fresh[i], fresh[j] = fresh[j], fresh[i] })
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				t := time.Now()
				s.See(fresh[i])
				lat = append(lat, time.Since(t))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), "max-ns")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heap-B/key")
			runtime.KeepAlive(keys)
		})
	}
}

// BenchmarkList measures a first list of 100k keys, one See per key (use a
// small -benchtime: one op is a whole list).
func BenchmarkList(b *testing.B) {
	keys := benchKeys(100_000, "perf/hv1/key-")
	b.ReportAllocs()
	for b.Loop() {
		var s Set
		s.UsePrefix("perf/hv1/")
		s.StartList()
		s.Reserve(len(keys))
		for _, k := range keys {
			s.See(k)
		}
		s.Sweep(func(string) bool { return true })
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/key")
}

// BenchmarkResync measures a resync that finds the same 100k keys.
func BenchmarkResync(b *testing.B) {
	keys := benchKeys(100_000, "perf/hv1/key-")
	var s Set
	s.UsePrefix("perf/hv1/")
	for _, k := range keys {
		s.See(k)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.StartList()
		s.Reserve(len(keys))
		for _, k := range keys {
			s.See(k)
		}
		s.Sweep(func(string) bool { return true })
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/key")
}
