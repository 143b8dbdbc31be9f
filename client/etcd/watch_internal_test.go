package etcd

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hivekv/kvstore"
)

func TestKeySetGenerations(t *testing.T) {
	s := newKeySet()
	s.startList()
	require.False(t, s.see("a"), "first sight: Create")
	require.False(t, s.see("b"))
	require.True(t, s.see("a"), "second sight: Modify")
	require.True(t, s.sweep(func(string) bool { t.Fatal("nothing vanished"); return true }))

	// A watch event adds c; then a resync sees only b and d.
	require.False(t, s.see("c"))
	s.startList()
	require.True(t, s.see("b"))
	require.False(t, s.see("d"))
	var gone []string
	require.True(t, s.sweep(func(k string) bool { gone = append(gone, k); return true }))
	sort.Strings(gone)
	require.Equal(t, []string{"a", "c"}, gone)
	require.Equal(t, 2, s.len())
	require.True(t, s.remove("b"))
	require.False(t, s.remove("b"))
	require.Equal(t, 1, s.len())

	// A sweep stops when told to, keeping what it did not visit.
	s.startList()
	calls := 0
	require.False(t, s.sweep(func(string) bool { calls++; return false }))
	require.Equal(t, 1, calls)
}

func TestKeySetSweepCountsStaleKeys(t *testing.T) {
	s := newKeySet()
	s.reserve(3)
	s.startList()
	for _, k := range []string{"a", "b", "c"} {
		s.see(k)
	}
	require.Zero(t, s.stale, "a first list leaves nothing stale")

	// A resync that sees every key again finds nothing to delete.
	s.startList()
	require.Equal(t, 3, s.stale)
	s.see("c")
	s.see("a")
	s.see("b")
	require.True(t, s.sweep(func(k string) bool { t.Fatalf("%s did not vanish", k); return true }))

	// A key removed by a watch event during a resync is no longer stale,
	// and the one the list did not return is swept.
	s.startList()
	s.see("a")
	require.True(t, s.remove("b"))
	require.Equal(t, 1, s.stale)
	var gone []string
	require.True(t, s.sweep(func(k string) bool { gone = append(gone, k); return true }))
	require.Equal(t, []string{"c"}, gone)
}

// refKeySet is the plain model keySet must behave like: a map from each
// known key to whether the current list saw it.
type refKeySet struct {
	seen    map[string]bool
	listing bool
}

func (r *refKeySet) startList() {
	for k := range r.seen {
		r.seen[k] = false
	}
	r.listing = true
}

func (r *refKeySet) see(k string) bool {
	_, known := r.seen[k]
	r.seen[k] = true
	return known
}

func (r *refKeySet) remove(k string) bool {
	_, known := r.seen[k]
	delete(r.seen, k)
	return known
}

func (r *refKeySet) stale() int {
	n := 0
	for _, seen := range r.seen {
		if !seen {
			n++
		}
	}
	return n
}

// snapshot returns the keys s knows, checking the invariants of its
// representation on the way: arenas strictly sorted, tombstone counts
// right, each overflow map disjoint from its arena.
func (s *keySet) snapshot(t *testing.T) map[string]bool {
	t.Helper()
	keys := make(map[string]bool)
	add := func(a *keyArena, extra map[string]struct{}) {
		dead := 0
		for i := range a.len() {
			if i > 0 && string(a.key(i-1)) >= string(a.key(i)) {
				t.Fatalf("arena out of order at %d: %q, %q", i, a.key(i-1), a.key(i))
			}
			if a.isDead(i) {
				dead++
				continue
			}
			keys[s.pfx+string(a.key(i))] = true
		}
		require.Equal(t, dead, a.ndead)
		for k := range extra {
			sfx, inArena := strings.CutPrefix(k, s.pfx)
			if _, found := a.search(sfx, 0); inArena && found {
				t.Fatalf("%q both in an arena and its overflow", k)
			}
			keys[k] = true
		}
	}
	add(&s.known, s.extra)
	if s.listing {
		add(&s.next, s.nextExtra)
	}
	return keys
}

// chooser is where the model test takes its decisions: a seeded
// *rand.Rand in TestKeySetModel, the fuzzer's bytes in FuzzKeySet.
type chooser interface {
	IntN(n int) int
	Float64() float64
}

// TestKeySetModel drives keySet and refKeySet with the same random
// operations (lists in order and out of order, lists that fail part way,
// watch events, removals during a list, sweeps stopped early, compactions)
// and requires the same answers and the same known keys throughout.
func TestKeySetModel(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			runKeySetModel(t, rng, int(seed%2), int(seed%3), 60)
		})
	}
}

// FuzzKeySet is TestKeySetModel with the fuzzer choosing: every decision
// of the model run is read from the input, so the fuzzer explores the
// sequences of lists, events, removals and sweeps. Seeds are in
// testdata/fuzz/FuzzKeySet; `go test` runs them every time.
func FuzzKeySet(f *testing.F) {
	f.Add([]byte{0, 0, 5, 1, 2, 3, 4, 0, 1, 2, 3, 250, 7, 9})
	f.Add([]byte{1, 1, 30, 0xff, 0x80, 0x10, 3, 3, 3, 0, 0, 0, 1, 2, 200, 100})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &byteChooser{data: data, rest: rand.New(rand.NewPCG(uint64(len(data)), 7))}
		compact := c.IntN(2)
		prefix := c.IntN(3)
		runKeySetModel(t, c, compact, prefix, 60)
	})
}

// byteChooser reads decisions from data. Once data is used up it goes on
// with a fixed pseudo-random sequence, so that every loop of the model ends
// as it does in TestKeySetModel; the run stops at the next phase.
type byteChooser struct {
	data []byte
	used int
	rest *rand.Rand
}

func (c *byteChooser) next() (byte, bool) {
	if c.used >= len(c.data) {
		return 0, false
	}
	b := c.data[c.used]
	c.used++
	return b, true
}

func (c *byteChooser) exhausted() bool { return c.used >= len(c.data) }

func (c *byteChooser) IntN(n int) int {
	b, ok := c.next()
	if !ok {
		return c.rest.IntN(n)
	}
	return int(b) % n
}

func (c *byteChooser) Float64() float64 {
	b, ok := c.next()
	if !ok {
		return c.rest.Float64()
	}
	return float64(b) / 256
}

// runKeySetModel runs up to phases watch-and-resync phases (fewer once a
// byteChooser is used up). compact 1 makes compaction frequent; prefix
// picks the key set's prefix ("", "a", "b\x00"): keys outside it take the
// maps only.
func runKeySetModel(t *testing.T, rng chooser, compact, prefix, phases int) {
	universe := randomKeys(rng, 20+rng.IntN(80))
	s := newKeySet()
	if compact == 1 {
		s.compactMin = 1 + rng.IntN(4)
	}
	s.usePrefix([]string{"", "a", "b\x00"}[prefix])
	ref := &refKeySet{seen: make(map[string]bool)}
	check := func(what string) {
		t.Helper()
		require.Equal(t, len(ref.seen), s.len(), what)
		got := s.snapshot(t)
		require.Len(t, got, len(ref.seen), what)
		for k := range ref.seen {
			if !got[k] {
				t.Fatalf("%s: %q missing", what, k)
			}
		}
		if ref.listing {
			require.Equal(t, ref.stale(), s.stale, what)
		}
	}
	bc, _ := rng.(*byteChooser)
	for phase := 0; phase < phases && (bc == nil || !bc.exhausted()); phase++ {
		// Watch phase.
		for range rng.IntN(30) {
			k := universe[rng.IntN(len(universe))]
			if rng.IntN(3) == 0 {
				require.Equal(t, ref.remove(k), s.remove(k), "remove %q", k)
			} else {
				require.Equal(t, ref.see(k), s.see(k), "see %q", k)
			}
			check("watch")
		}
		// Resync: attempts until one completes.
		for {
			s.startList()
			ref.startList()
			check("startList")
			list := randomList(rng, universe)
			s.reserve(len(list))
			failAt := len(list) + 1
			if rng.IntN(4) == 0 {
				failAt = rng.IntN(len(list) + 1)
			}
			for i, k := range list {
				if i == failAt {
					break
				}
				if rng.IntN(20) == 0 {
					r := universe[rng.IntN(len(universe))]
					require.Equal(t, ref.remove(r), s.remove(r), "remove %q in list", r)
				}
				require.Equal(t, ref.see(k), s.see(k), "list see %q", k)
				check("list")
			}
			if failAt <= len(list) {
				continue
			}
			stopAfter := -1
			if rng.IntN(5) == 0 {
				stopAfter = 1 + rng.IntN(ref.stale()+1)
			}
			calls := 0
			complete := s.sweep(func(k string) bool {
				seen, known := ref.seen[k]
				require.True(t, known && !seen, "%q reported vanished", k)
				delete(ref.seen, k)
				calls++
				return calls != stopAfter
			})
			require.Equal(t, calls != stopAfter, complete)
			if complete {
				require.Zero(t, ref.stale(), "sweep missed keys")
			}
			ref.listing = false
			check("sweep")
			break
		}
	}
}

// randomKeys returns n distinct keys over a small alphabet with varied
// lengths, so keys are often prefixes of one another.
func randomKeys(rng chooser, n int) []string {
	const alphabet = "ab\x00\xff"
	set := make(map[string]bool)
	for len(set) < n {
		b := make([]byte, rng.IntN(6))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		set[string(b)] = true
	}
	keys := make([]string, 0, n)
	for k := range set {
		keys = append(keys, k)
	}
	return keys
}

// randomList returns a random subset of universe in ascending order, now
// and then with keys out of order or repeated.
func randomList(rng chooser, universe []string) []string {
	var list []string
	p := rng.Float64()
	for _, k := range universe {
		if rng.Float64() < p {
			list = append(list, k)
		}
	}
	slices.Sort(list)
	if rng.IntN(4) == 0 && len(list) > 1 {
		for range 1 + rng.IntN(3) {
			i, j := rng.IntN(len(list)), rng.IntN(len(list))
			list[i], list[j] = list[j], list[i]
		}
	}
	if rng.IntN(6) == 0 && len(list) > 0 {
		list = append(list, list[rng.IntN(len(list))])
	}
	return list
}

// Lookups must not allocate: they run for every event of a large prefix.
func TestKeySetLookupsDoNotAllocate(t *testing.T) {
	for _, pfx := range []string{"", "some/rather/"} {
		t.Run(pfx, func(t *testing.T) { testLookupsDoNotAllocate(t, pfx) })
	}
}

func testLookupsDoNotAllocate(t *testing.T, pfx string) {
	keys := benchKeys(1000, "some/rather/long/prefix/beyond/32/bytes/")
	s := newKeySet()
	s.usePrefix(pfx)
	s.startList()
	s.reserve(len(keys))
	for _, k := range keys {
		s.see(string(k))
	}
	require.True(t, s.sweep(func(string) bool { return true }))
	k, missing := string(keys[500]), "some/rather/long/prefix/beyond/32/bytes/zz"
	require.Zero(t, testing.AllocsPerRun(100, func() {
		s.see(k)
		s.remove(missing)
	}), "watch phase")
	last := string(keys[999])
	s.startList()
	s.see(last)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		s.see(k) // out of order, known
		s.see(last)
	}), "list phase")
}

func benchKeys(n int, prefix string) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "%s%07d", prefix, i)
	}
	return keys
}

// mapKeySet is the previous design (one map entry per key, holding the
// event's key string), kept here as the baseline of the benchmarks.
type mapKeySet map[string]uint32

// listKeys lists keys into a fresh set the way emitPage does: one string
// per key, as the event handed to the consumer needs.
func listKeys(keys [][]byte, useMap bool) any {
	if useMap {
		m := make(mapKeySet, len(keys))
		for _, k := range keys {
			m[string(k)] = 1
		}
		return m
	}
	s := newKeySet()
	s.usePrefix("perf/hv1/")
	s.startList()
	s.reserve(len(keys))
	for _, k := range keys {
		s.see(string(k))
	}
	s.sweep(func(string) bool { return true })
	return &s
}

// BenchmarkKeySetList100k measures a first list of 100k keys of 20 bytes:
// time and garbage per key, and live-bytes/key, the heap the set keeps.
func BenchmarkKeySetList100k(b *testing.B) {
	keys := benchKeys(100_000, "perf/hv1/key-")
	for _, impl := range []string{"arena", "map"} {
		b.Run(impl, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			set := listKeys(keys, impl == "map")
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(set)
			live := float64(after.HeapAlloc) - float64(before.HeapAlloc)
			b.ReportAllocs()
			for b.Loop() {
				listKeys(keys, impl == "map")
			}
			b.ReportMetric(live/float64(len(keys)), "live-bytes/key")
		})
	}
}

// BenchmarkKeySetResync100k measures a resync that finds the same 100k
// keys: one lookup per key in the previous view, then the sweep.
func BenchmarkKeySetResync100k(b *testing.B) {
	keys := benchKeys(100_000, "perf/hv1/key-")
	s := listKeys(keys, false).(*keySet)
	b.ReportAllocs()
	for b.Loop() {
		s.startList()
		s.reserve(len(keys))
		for _, k := range keys {
			s.see(string(k))
		}
		s.sweep(func(string) bool { return true })
	}
}

// BenchmarkKeySetWatchSee measures a watch event for a known key.
func BenchmarkKeySetWatchSee(b *testing.B) {
	keys := benchKeys(100_000, "perf/hv1/key-")
	s := listKeys(keys, false).(*keySet)
	i := 0
	for b.Loop() {
		s.see(string(keys[i]))
		i = (i + 7919) % len(keys)
	}
}

func TestOverloadedErrors(t *testing.T) {
	for _, err := range []error{
		rpctypes.ErrTooManyRequests,
		rpctypes.ErrGRPCRequestTooManyRequests,
		rpctypes.ErrNoLeader,
		rpctypes.ErrGRPCNoLeader,
		status.Error(codes.ResourceExhausted, "slow down"),
		wrapOp("list", "p/", kvstore.Hint(fmt.Errorf("page: %w", rpctypes.ErrTooManyRequests))),
		fmt.Errorf("watching from revision 3: %w", errors.New("etcdserver: no leader")),
	} {
		require.True(t, overloaded(err), "%v", err)
	}
	for _, err := range []error{
		rpctypes.ErrCompacted,
		status.Error(codes.Unavailable, "connection refused"),
		errors.New("boom"),
	} {
		require.False(t, overloaded(err), "%v", err)
	}
}
