package leasebook

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// grant attaches key, adding leases named 1, 2, 3... when none has room.
func grant(b *Book[int, string], next *int, key string) int {
	if id, _, ok := b.Attach(key); ok {
		return id
	}
	*next++
	b.Add(*next, "lease")
	id, _, ok := b.Attach(key)
	if !ok {
		panic("a new lease has room")
	}
	return id
}

func TestFillsLeasesUpToTheLimit(t *testing.T) {
	b := New[int, string](5)
	next := 0
	for i := range 5 {
		require.Equal(t, 1, grant(b, &next, key(i)))
	}
	for i := 5; i < 10; i++ {
		require.Equal(t, 2, grant(b, &next, key(i)))
	}
	// Released room on lease 1 is reused before a third lease is granted.
	b.Release(key(2))
	b.Release(key(4))
	require.Equal(t, 1, grant(b, &next, key(11)))
	require.Equal(t, 1, grant(b, &next, key(12)))
	require.Equal(t, 3, grant(b, &next, key(13)))
	require.Equal(t, 1, grant(b, &next, key(1)), "an attached key keeps its lease")
	require.Equal(t, 3, b.Leases())
	require.True(t, b.Has(key(1), 1))
	require.False(t, b.Has(key(1), 2))
	require.False(t, b.IsAttached(key(2)))
}

func TestRemoveReportsKeysOnce(t *testing.T) {
	b := New[int, string](2)
	next := 0
	for i := range 5 {
		grant(b, &next, key(i))
	}
	v, lost, ok := b.Remove(2)
	require.True(t, ok)
	require.Equal(t, "lease", v)
	sort.Strings(lost)
	require.Equal(t, []string{key(2), key(3)}, lost)
	_, lost, ok = b.Remove(2)
	require.False(t, ok)
	require.Empty(t, lost)
	require.False(t, b.IsAttached(key(2)))
	require.Equal(t, 3, grant(b, &next, key(2)), "a lost key goes to a lease with room, not the removed one")
}

func TestReleasePrefix(t *testing.T) {
	b := New[int, string](10)
	next := 0
	for _, k := range []string{"a/1", "a/2", "ab", "b/1"} {
		grant(b, &next, k)
	}
	b.ReleasePrefix("a/")
	require.False(t, b.IsAttached("a/1"))
	require.False(t, b.IsAttached("a/2"))
	require.True(t, b.IsAttached("ab"))
	require.True(t, b.IsAttached("b/1"))
}

func key(i int) string { return "key" + string(rune('a'+i)) }
