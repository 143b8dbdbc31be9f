package allocator_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/allocator"
)

func TestAllocateNewAndReuse(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		base := basePath(t)
		c1, c2 := k.newCli(t), k.newCli(t)
		a1 := newAllocator(t, c1, base, "node1")
		a2 := newAllocator(t, c2, base, "node2")
		key := "k8s:app=foo;k8s:ns=default;"

		id, isNew, first, err := a1.Allocate(ctx, key)
		require.NoError(t, err)
		require.True(t, isNew)
		require.True(t, first)
		require.NotEqual(t, allocator.NoID, id)

		again, isNew, first, err := a1.Allocate(ctx, key)
		require.NoError(t, err)
		require.Equal(t, id, again)
		require.False(t, isNew)
		require.False(t, first)

		other, isNew, first, err := a2.Allocate(ctx, key)
		require.NoError(t, err)
		require.Equal(t, id, other)
		require.False(t, isNew)
		require.True(t, first)

		require.Equal(t, map[string]string{
			base + "/id/" + id.String():       key,
			base + "/value/" + key + "/node1": id.String(),
			base + "/value/" + key + "/node2": id.String(),
		}, listStrings(t, c1, base+"/"))

		got, err := a2.GetNoCache(ctx, key)
		require.NoError(t, err)
		require.Equal(t, id, got)
		require.Eventually(t, func() bool {
			k, err := a2.GetByID(ctx, id)
			return err == nil && k == key
		}, testTimeout, 10e6)
		got, err = a2.Get(ctx, "unknown")
		require.NoError(t, err)
		require.Equal(t, allocator.NoID, got)
		name, err := a2.GetByID(ctx, 99999)
		require.NoError(t, err)
		require.Empty(t, name)

		last, err := a1.Release(ctx, key)
		require.NoError(t, err)
		require.False(t, last)
		last, err = a1.Release(ctx, key)
		require.NoError(t, err)
		require.True(t, last)
		_, err = a1.Release(ctx, key)
		require.ErrorIs(t, err, allocator.ErrNotAllocated)
		require.NotContains(t, listStrings(t, c1, base+"/"), base+"/value/"+key+"/node1")
		require.Contains(t, listStrings(t, c1, base+"/"), base+"/id/"+id.String(), "the master key stays until GC")
	})
}

// Keys contain "/" and prefix each other: slave keys must match exactly.
func TestPrefixKeysGetOwnIDs(t *testing.T) {
	forEachKit(t, func(t *testing.T, k kit) {
		ctx := testCtx(t)
		a := newAllocator(t, k.newCli(t), basePath(t), "n")
		keys := []string{"a;b;", "a;b;c;", "a;b;/c", "a;b;/c/d", "a"}
		ids := map[allocator.ID]string{}
		for _, key := range keys {
			id, isNew, _, err := a.Allocate(ctx, key)
			require.NoError(t, err)
			require.True(t, isNew, key)
			require.NotContains(t, ids, id)
			ids[id] = key
		}
		for id, key := range ids {
			got, err := a.GetNoCache(ctx, key)
			require.NoError(t, err)
			require.Equal(t, id, got, key)
		}
	})
}

func TestBadInput(t *testing.T) {
	ctx := testCtx(t)
	k := memKit()
	c := k.newCli(t)

	_, err := allocator.NewKVStoreBackend(allocator.KVStoreBackendConfig{BasePath: "x"})
	require.ErrorIs(t, err, allocator.ErrNoBackend)
	_, err = allocator.NewKVStoreBackend(allocator.KVStoreBackendConfig{Backend: c})
	require.ErrorIs(t, err, allocator.ErrInvalidConfig)
	_, err = allocator.NewKVStoreBackend(allocator.KVStoreBackendConfig{BasePath: "x", Suffix: "a/b", Backend: c})
	require.ErrorIs(t, err, allocator.ErrInvalidConfig)
	_, err = allocator.NewAllocator(nil)
	require.ErrorIs(t, err, allocator.ErrNoBackend)

	b := newBackend(t, c, "bad", "n")
	_, err = allocator.NewAllocator(b, allocator.WithMin(10), allocator.WithMax(5))
	require.ErrorIs(t, err, allocator.ErrInvalidConfig)
	require.ErrorContains(t, err, "min ID 10 > max ID 5")
	_, err = allocator.NewAllocator(b, allocator.WithMin(0))
	require.ErrorIs(t, err, allocator.ErrInvalidConfig)
	_, err = allocator.NewAllocator(b, allocator.WithMin(1), allocator.WithMax(300), allocator.WithPrefixMask(256))
	require.ErrorIs(t, err, allocator.ErrInvalidConfig)

	a := newAllocator(t, c, "bad", "n", allocator.WithMin(7), allocator.WithMax(8))
	_, _, _, err = a.Allocate(ctx, "")
	require.ErrorIs(t, err, allocator.ErrEmptyKey)
	_, err = a.Release(ctx, "")
	require.ErrorIs(t, err, allocator.ErrEmptyKey)
	_, err = a.Get(ctx, "")
	require.ErrorIs(t, err, allocator.ErrEmptyKey)
	for i := range 2 {
		_, _, _, err := a.Allocate(ctx, "k"+strconv.Itoa(i))
		require.NoError(t, err)
	}
	before := listStrings(t, c, "bad/")
	_, _, _, err = a.Allocate(ctx, "one-too-many")
	require.ErrorIs(t, err, allocator.ErrRangeExhausted)
	require.ErrorContains(t, err, "[7, 8]")
	require.Equal(t, before, listStrings(t, c, "bad/"), "an exhausted range writes nothing")

	a.Close()
	_, _, _, err = a.Allocate(ctx, "k9")
	require.True(t, errors.Is(err, allocator.ErrClosed))
}

// A prefix mask is ORed into every ID; the range bounds the rest, and GC
// covers the masked range.
func TestPrefixMask(t *testing.T) {
	ctx := testCtx(t)
	const mask = allocator.ID(5 << 16)
	c := memKit().newCli(t)
	base := basePath(t)
	a := newAllocator(t, c, base, "n", allocator.WithMin(1), allocator.WithMax(3), allocator.WithPrefixMask(mask))
	seen := map[allocator.ID]bool{}
	for i := range 3 {
		id, _, _, err := a.Allocate(ctx, "k"+strconv.Itoa(i))
		require.NoError(t, err)
		require.Equal(t, mask, id&mask)
		require.True(t, id&^mask >= 1 && id&^mask <= 3, "ID %d", id)
		seen[id] = true
	}
	require.Len(t, seen, 3)
	_, _, _, err := a.Allocate(ctx, "k3")
	require.ErrorIs(t, err, allocator.ErrRangeExhausted)

	_, err = a.Release(ctx, "k0")
	require.NoError(t, err)
	marks, stats, err := a.RunGC(ctx, nil, nil)
	require.NoError(t, err)
	require.Len(t, marks, 1, "the masked range is GC's range")
	require.Equal(t, 3, stats.Alive)
}
