package keyset

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGenerations(t *testing.T) {
	var s Set
	s.StartList()
	require.False(t, s.See("a"), "first sight: Create")
	require.False(t, s.See("b"))
	require.True(t, s.See("a"), "second sight: Modify")
	require.True(t, s.Sweep(func(string) bool { t.Fatal("nothing vanished"); return true }))

	// A watch event adds c; then a resync sees only b and d.
	require.False(t, s.See("c"))
	s.StartList()
	require.True(t, s.See("b"))
	require.False(t, s.See("d"))
	var gone []string
	require.True(t, s.Sweep(func(k string) bool { gone = append(gone, k); return true }))
	slices.Sort(gone)
	require.Equal(t, []string{"a", "c"}, gone)
	require.Equal(t, 2, s.Len())
	require.True(t, s.Remove("b"))
	require.False(t, s.Remove("b"))
	require.Equal(t, 1, s.Len())

	// A sweep stops when told to, keeping what it did not visit.
	s.StartList()
	calls := 0
	require.False(t, s.Sweep(func(string) bool { calls++; return false }))
	require.Equal(t, 1, calls)
	require.Zero(t, s.Len(), "the key handed to fn is gone")
}

func TestSweepCountsStaleKeys(t *testing.T) {
	var s Set
	s.Reserve(3)
	s.StartList()
	for _, k := range []string{"a", "b", "c"} {
		s.See(k)
	}
	require.Zero(t, s.Stale(), "a first list leaves nothing stale")

	// A resync that sees every key again finds nothing to delete.
	s.StartList()
	require.Equal(t, 3, s.Stale())
	s.See("c")
	s.See("a")
	s.See("b")
	require.True(t, s.Sweep(func(k string) bool { t.Fatalf("%s did not vanish", k); return true }))

	// A key removed by a watch event during a resync is no longer stale,
	// and the one the list did not return is swept.
	s.StartList()
	s.See("a")
	require.True(t, s.Remove("b"))
	require.Equal(t, 1, s.Stale())
	var gone []string
	require.True(t, s.Sweep(func(k string) bool { gone = append(gone, k); return true }))
	require.Equal(t, []string{"c"}, gone)
}

// A failed list attempt is abandoned by starting the next one: the keys it
// saw stay known, and the next attempt's sweep decides about them.
func TestFailedListKeepsWhatItSaw(t *testing.T) {
	var s Set
	s.UsePrefix("p/")
	s.StartList()
	s.See("p/a")
	s.See("p/b")
	s.StartList() // the first attempt failed after two keys
	require.Equal(t, 2, s.Stale())
	require.True(t, s.See("p/b"))
	var gone []string
	require.True(t, s.Sweep(func(k string) bool { gone = append(gone, k); return true }))
	require.Equal(t, []string{"p/a"}, gone)
}

// Lookups must not allocate: they run for every event of a large prefix.
func TestLookupsDoNotAllocate(t *testing.T) {
	for _, pfx := range []string{"", "some/rather/"} {
		t.Run(pfx, func(t *testing.T) {
			keys := benchKeys(1000, "some/rather/long/prefix/beyond/32/bytes/")
			var s Set
			s.UsePrefix(pfx)
			s.StartList()
			s.Reserve(len(keys))
			for _, k := range keys {
				s.See(k)
			}
			require.True(t, s.Sweep(func(string) bool { return true }))
			k, missing := keys[500], "some/rather/long/prefix/beyond/32/bytes/zz"
			require.Zero(t, testing.AllocsPerRun(100, func() {
				s.See(k)
				s.Remove(missing)
			}), "watch phase")
			s.StartList()
			require.Zero(t, testing.AllocsPerRun(100, func() {
				s.See(k)
				s.See(keys[999])
			}), "list phase")
		})
	}
}

// Growing the table never moves all keys at once: the old table is moved a
// bounded number of slots per operation, and cur never fills up first.
func TestGrowthIsIncremental(t *testing.T) {
	var s Set
	s.UsePrefix("perf/")
	keys := benchKeys(200_000, "perf/")
	maxStep := 0
	for i, k := range keys {
		require.False(t, s.See(k))
		if s.old.tags != nil {
			maxStep = max(maxStep, s.migrateStep)
		}
		if i%1000 == 0 {
			// A key from far back, to look it up mid-move.
			require.True(t, s.See(keys[i/2]))
		}
	}
	require.Zero(t, s.forcedMigrations)
	require.Positive(t, maxStep, "the table grew")
	require.LessOrEqual(t, maxStep, 32, "slots moved per operation")
	require.Len(t, s.check(t), len(keys))
}

// If cur fills up before old is moved (the step sizing prevents it), both
// are moved into one table at once, still correctly.
func TestForcedMigration(t *testing.T) {
	var s Set
	keys := benchKeys(1000, "k")
	for _, k := range keys[:500] {
		s.See(k)
	}
	s.startMigration(capFor(2000))
	for _, k := range keys[500:510] {
		s.See(k)
	}
	require.NotNil(t, s.old.tags, "still moving")
	s.grow()
	require.Equal(t, 1, s.forcedMigrations)
	require.Nil(t, s.old.tags)
	s.forcedMigrations = 0
	p := &pair{t: t, s: &s, ref: newModel()}
	for _, k := range keys[:510] {
		p.ref.see(k)
	}
	p.check("after the forced move")
}

// After most keys are deleted, the set gives back memory without an
// operation that copies everything: sparse chunks are evacuated and freed
// and the table shrinks, a little per operation.
func TestDeletionsGiveBackMemory(t *testing.T) {
	var s Set
	s.UsePrefix("perf/")
	keys := benchKeys(100_000, "perf/")
	s.StartList()
	s.Reserve(len(keys))
	for _, k := range keys {
		s.See(k)
	}
	s.Sweep(func(string) bool { return true })
	chunks, slots := s.slabBytes(), len(s.cur.tags)
	maxStep := 0
	for i, k := range keys {
		if i%10 != 0 {
			require.True(t, s.Remove(k))
		}
		if s.old.tags != nil {
			maxStep = max(maxStep, s.migrateStep)
		}
	}
	require.Positive(t, maxStep, "the table shrank")
	require.LessOrEqual(t, maxStep, 32, "slots moved per operation")
	// Deleting the rest shrinks the table a quarter at a time, each move
	// still a bounded number of slots per operation.
	rest := &Set{}
	for _, k := range keys[:20_000] {
		rest.See(k)
	}
	for _, k := range keys[:20_000] {
		rest.Remove(k)
		if rest.old.tags != nil {
			require.LessOrEqual(t, rest.migrateStep, 32, "slots moved per operation")
		}
	}
	require.Zero(t, rest.forcedMigrations)
	for range 20_000 { // lookups carry the remaining background work
		s.See(keys[0])
	}
	require.Empty(t, s.slab.evac)
	require.Nil(t, s.old.tags)
	require.Less(t, s.slabBytes(), chunks/4, "slab bytes")
	require.Less(t, len(s.cur.tags), slots/2, "table slots")
	require.Zero(t, s.forcedMigrations)
	require.Len(t, s.check(t), len(keys)/10)
}

func (s *Set) slabBytes() int {
	n := 0
	for _, c := range s.slab.chunks {
		n += cap(c)
	}
	return n
}

func benchKeys(n int, prefix string) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%08d", prefix, i)
	}
	return keys
}

// A resync that finds the prefix empty removes every key in one Sweep; the
// table then shrinks a quarter at a time, never in one big move.
func TestSweepThatEmptiesShrinksGradually(t *testing.T) {
	var s Set
	for _, k := range benchKeys(50_000, "k/") {
		s.See(k)
	}
	s.StartList()
	require.True(t, s.Sweep(func(string) bool { return true }))
	require.Zero(t, s.Len())
	require.NotNil(t, s.old.tags, "moving into a smaller table")
	require.LessOrEqual(t, s.migrateStep, 32, "slots moved per operation")
	for s.old.tags != nil || len(s.cur.tags) > minTableCap {
		require.False(t, s.Remove("k/missing"))
		s.See("k/x") // an operation that can shrink: Remove of a known key
		s.Remove("k/x")
		if s.old.tags != nil {
			require.LessOrEqual(t, s.migrateStep, 32, "slots moved per operation")
		}
	}
	require.Zero(t, s.forcedMigrations)
	require.Empty(t, s.check(t))
}
