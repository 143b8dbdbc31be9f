package allocator_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
)

// Events report every change of the master keys: a Create when an ID gets
// its key, a Delete when GC frees it.
func TestEvents(t *testing.T) {
	ctx := testCtx(t)
	c := memKit().newCli(t)
	events := make(chan allocator.Event, 16)
	a := newAllocator(t, c, basePath(t), "n", allocator.WithEvents(events))
	next := func() allocator.Event {
		select {
		case ev := <-events:
			return ev
		case <-time.After(testTimeout):
			t.Fatal("no event")
			return allocator.Event{}
		}
	}
	id, _, _, err := a.Allocate(ctx, "k;")
	require.NoError(t, err)
	require.Equal(t, allocator.Event{Typ: kvstore.EventTypeCreate, ID: id, Key: "k;"}, next())
	_, err = a.Release(ctx, "k;")
	require.NoError(t, err)
	marks, _, err := a.RunGC(ctx, rate.NewLimiter(rate.Inf, 1), nil)
	require.NoError(t, err)
	_, stats, err := a.RunGC(ctx, rate.NewLimiter(rate.Inf, 1), marks)
	require.NoError(t, err)
	require.Equal(t, 1, stats.Deleted)
	require.Equal(t, allocator.Event{Typ: kvstore.EventTypeDelete, ID: id, Key: "k;"}, next())
}
