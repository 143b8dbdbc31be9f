package memory

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestMemoryWatch(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	ctx := testCtx(t)
	require.NoError(t, c.Update(ctx, "p/b", []byte("1"), false))
	require.NoError(t, c.Update(ctx, "p/a", []byte("1"), false))
	require.NoError(t, c.Update(ctx, "q/x", []byte("1"), false))

	w := c.ListAndWatch(ctx, "p/", 0)
	require.Equal(t, "p/", w.Prefix)
	// Sorted by key, then ListDone.
	requireEvents(t, w, create("p/a", "1"), create("p/b", "1"), listDone)

	require.NoError(t, c.Update(ctx, "p/a", []byte("2"), false))
	require.NoError(t, c.Update(ctx, "q/y", []byte("1"), false)) // not watched
	require.NoError(t, c.Update(ctx, "p/c", []byte("1"), true))
	require.NoError(t, c.Delete(ctx, "p/b"))
	require.NoError(t, c.Update(ctx, "p/b", []byte("again"), false))
	require.NoError(t, c.DeletePrefix(ctx, "p/"))
	requireEvents(t, w,
		modify("p/a", "2"),
		create("p/c", "1"),
		deleted("p/b"),
		create("p/b", "again"), // a new incarnation is a Create
		deleted("p/a"), deleted("p/b"), deleted("p/c"),
	)

	w.Stop()
	requireClosed(t, w)
	w.Stop() // idempotent
}

func TestMemoryWatchEnds(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	ctx := testCtx(t)

	wctx, cancel := context.WithCancel(ctx)
	w := c.ListAndWatch(wctx, "", 1)
	requireEvents(t, w, listDone)
	cancel()
	requireClosed(t, w)

	// Close ends watchers that are blocked on their consumer too.
	w = c.ListAndWatch(ctx, "", 0)
	require.NoError(t, c.Update(ctx, "k", nil, false))
	c.Close()
	for range w.Events {
	}
	<-w.Done()

	// A watcher of a closed client, or with an ended ctx, closes at once.
	w = c.ListAndWatch(ctx, "", 0)
	requireClosed(t, w)
	c2 := newTestClient(t, s, nil)
	w = c2.ListAndWatch(wctx, "", 0)
	requireClosed(t, w)

	s.mu.Lock()
	defer s.mu.Unlock()
	require.Empty(t, s.watchers, "feeds are unregistered")
}

// Writers never wait for a slow consumer, and the consumer still gets every
// event, in revision order.
func TestMemoryWatchSlowConsumer(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	ctx := testCtx(t)
	w := c.ListAndWatch(ctx, "k/", 0)
	const n = 2000
	for i := range n {
		// Unbuffered and unread: these would deadlock if a write waited
		// for the watcher.
		require.NoError(t, c.Update(ctx, fmt.Sprintf("k/%d", i%10), []byte(fmt.Sprint(i)), false))
	}
	requireEvents(t, w, listDone)
	for i := range n {
		ev := next(t, w)
		typ := kvstore.EventTypeModify
		if i < 10 {
			typ = kvstore.EventTypeCreate
		}
		require.Equal(t, kvstore.KeyValueEvent{Typ: typ, Key: fmt.Sprintf("k/%d", i%10), Value: []byte(fmt.Sprint(i))}, ev)
	}
}

// feedOf returns the feed of the store's only watcher.
func feedOf(t testing.TB, s *Store) *feed {
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.watchers, 1)
	for f := range s.watchers {
		return f
	}
	return nil
}

func queued(s *Store, f *feed) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(f.queue)
}

// A watcher that fell behind a compaction lists again and reports the
// difference, as the etcd backend does after ErrCompacted.
func TestMemoryWatchCompactResync(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	ctx := testCtx(t)
	require.NoError(t, c.Update(ctx, "a", []byte("1"), false))
	require.NoError(t, c.Update(ctx, "b", []byte("1"), false))
	require.NoError(t, c.Update(ctx, "keep", []byte("1"), false))
	w := c.ListAndWatch(ctx, "", 0)
	requireEvents(t, w, create("a", "1"), create("b", "1"), create("keep", "1"), listDone)
	f := feedOf(t, s)

	// The watcher takes x and blocks handing it over; what follows queues.
	require.NoError(t, c.Update(ctx, "x", []byte("1"), false))
	require.Eventually(t, func() bool { return queued(s, f) == 0 }, testTimeout, time.Millisecond)
	require.NoError(t, c.Update(ctx, "a", []byte("2"), false))
	require.NoError(t, c.Delete(ctx, "b"))
	require.NoError(t, c.Update(ctx, "c", []byte("1"), false))
	require.NoError(t, c.Update(ctx, "c", []byte("2"), false))
	require.Equal(t, 4, queued(s, f))

	s.Compact()
	requireEvents(t, w,
		create("x", "1"), // already taken before the compaction
		// The relist, sorted: known keys as Modify (values may repeat),
		// new ones as Create, then the vanished ones as Delete.
		modify("a", "2"),
		create("c", "2"),
		modify("keep", "1"),
		modify("x", "1"),
		deleted("b"),
	)
	// No second ListDone; the watch goes on.
	require.NoError(t, c.Update(ctx, "d", []byte("1"), false))
	require.NoError(t, c.Delete(ctx, "a"))
	requireEvents(t, w, create("d", "1"), deleted("a"))

	// A watcher that is caught up is not disturbed by a compaction.
	s.Compact()
	require.NoError(t, c.Update(ctx, "e", []byte("1"), false))
	requireEvents(t, w, create("e", "1"))
	w.Stop()
	requireClosed(t, w)
}

// Applying the events to a map converges to ListPrefix, with writers,
// compactions and lease expiries racing the consumer.
func TestMemoryWatchConverges(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	ctx := testCtx(t)
	w := c.ListAndWatch(ctx, "", 1)
	writer := s.NewClient(&kvstore.ExtraOptions{LeaseTTL: time.Millisecond, LockLeaseTTL: time.Millisecond})
	for i := range 500 {
		k := fmt.Sprintf("k%d", i%37)
		switch i % 5 {
		case 0, 1, 2:
			require.NoError(t, writer.Update(ctx, k, []byte(fmt.Sprint(i)), i%2 == 0))
		case 3:
			require.NoError(t, writer.Delete(ctx, k))
		case 4:
			s.Compact()
		}
	}
	writer.Close() // its leased keys expire shortly after
	require.Eventually(t, func() bool { return s.leaseCount() == 1 }, testTimeout, time.Millisecond)
	require.NoError(t, c.Update(ctx, "sentinel", nil, false))

	// The store is quiet now: the events must converge to its content.
	pairs, err := c.ListPrefix(ctx, "")
	require.NoError(t, err)
	want := map[string]string{}
	for k, v := range pairs {
		want[k] = string(v.Data)
	}
	state := map[string]string{}
	listDones := 0
	for !maps.Equal(want, state) {
		ev := next(t, w)
		switch ev.Typ {
		case kvstore.EventTypeListDone:
			listDones++
		case kvstore.EventTypeDelete:
			delete(state, ev.Key)
		default:
			state[ev.Key] = string(ev.Value)
		}
	}
	require.Equal(t, 1, listDones)
}
