package kvstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestEventTypeString(t *testing.T) {
	tests := []struct {
		typ  kvstore.EventType
		want string
	}{
		{kvstore.EventTypeCreate, "create"},
		{kvstore.EventTypeModify, "modify"},
		{kvstore.EventTypeDelete, "delete"},
		{kvstore.EventTypeListDone, "listDone"},
		{kvstore.EventType(-1), "unknown"},
		{kvstore.EventType(42), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			require.Equal(t, tt.want, tt.typ.String())
		})
	}
}

// waitClosed fails the test if ch is not closed soon. Used instead of a
// bare receive so that a bug makes the test fail, not hang.
func waitClosed[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		require.False(t, ok, "%s: received a value instead of close", what)
	case <-time.After(10 * time.Second):
		require.FailNow(t, what+" not closed")
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// feed plays the backend: it emits evs, then waits for Stop or ctx, then
// finishes. It returns how many events Emit accepted.
func feed(ctx context.Context, w *kvstore.Watcher, evs []kvstore.KeyValueEvent) <-chan int {
	sent := make(chan int, 1)
	go func() {
		defer w.Finish()
		n := 0
		for _, ev := range evs {
			if !w.Emit(ctx, ev) {
				break
			}
			n++
		}
		select {
		case <-w.Stopping():
		case <-ctx.Done():
		}
		sent <- n
	}()
	return sent
}

func TestNewWatcher(t *testing.T) {
	for _, tt := range []struct {
		size, wantCap int
	}{{-1, 0}, {0, 0}, {16, 16}} {
		w := kvstore.NewWatcher("cilium/state/", tt.size)
		require.Equal(t, "cilium/state/", w.Prefix)
		require.Equal(t, tt.wantCap, cap(w.Events))
		require.False(t, isClosed(w.Stopping()))
		require.False(t, isClosed(w.Done()))
		w.Finish()
	}
}

func TestWatcherDeliversInOrderThenCloses(t *testing.T) {
	evs := []kvstore.KeyValueEvent{
		{Typ: kvstore.EventTypeCreate, Key: "a", Value: []byte("1")},
		{Typ: kvstore.EventTypeListDone},
		{Typ: kvstore.EventTypeModify, Key: "a", Value: []byte("2")},
		{Typ: kvstore.EventTypeDelete, Key: "a"},
	}
	for _, size := range []int{0, 1, 10} {
		w := kvstore.NewWatcher("", size)
		sent := feed(context.Background(), w, evs)

		var got []kvstore.KeyValueEvent
		for len(got) < len(evs) {
			got = append(got, <-w.Events)
		}
		require.Equal(t, evs, got)

		w.Stop()
		require.Equal(t, len(evs), <-sent)
		// Stop returned: Events is closed and Done too.
		_, ok := <-w.Events
		require.False(t, ok)
		require.True(t, isClosed(w.Done()))
	}
}

func TestWatcherFinishClosesEvents(t *testing.T) {
	// The backend may finish on its own (ctx ended, client closed): the
	// consumer sees Events closed, Stopping and Done closed, and a later
	// Stop returns at once.
	ctx, cancel := context.WithCancel(context.Background())
	w := kvstore.NewWatcher("p", 0)
	sent := feed(ctx, w, nil)
	cancel()

	waitClosed(t, w.Events, "Events")
	waitClosed(t, w.Done(), "Done")
	require.True(t, isClosed(w.Stopping()), "Finish closes Stopping so that late Emits return false")
	require.Equal(t, 0, <-sent)
	w.Stop()
	w.Stop()
}

func TestWatcherFinishTwiceIsHarmless(t *testing.T) {
	w := kvstore.NewWatcher("p", 1)
	w.Finish()
	require.NotPanics(t, w.Finish)
	require.True(t, isClosed(w.Done()))
	w.Stop()
}

func TestWatcherStopIdempotentAndConcurrent(t *testing.T) {
	w := kvstore.NewWatcher("p", 0)
	sent := feed(context.Background(), w, []kvstore.KeyValueEvent{{Key: "never read"}})

	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Stop()
			// Every Stop returns only once the watcher has finished.
			assert.True(t, isClosed(w.Done()), "Stop returned before Done")
		}()
	}
	wg.Wait()
	w.Stop()

	// The unread event was abandoned, not delivered after Stop.
	require.Equal(t, 0, <-sent)
	_, ok := <-w.Events
	require.False(t, ok)
}

func TestWatcherStopWaitsForFinish(t *testing.T) {
	w := kvstore.NewWatcher("p", 4)
	stopped := make(chan struct{})
	go func() {
		w.Stop()
		close(stopped)
	}()

	// Play the backend by hand: see the stop, try to emit, then finish.
	waitClosed(t, w.Stopping(), "Stopping")

	// Events has room, yet nothing may be sent once Stop was called.
	for range 100 {
		require.False(t, w.Emit(context.Background(), kvstore.KeyValueEvent{Key: "late"}))
	}
	require.Empty(t, w.Events)

	require.False(t, isClosed(stopped), "Stop returned before Finish")
	require.False(t, isClosed(w.Done()))

	w.Finish()
	waitClosed(t, stopped, "Stop's return")
	_, ok := <-w.Events
	require.False(t, ok)
}

func TestWatcherEmitContext(t *testing.T) {
	t.Run("ended ctx, room in Events", func(t *testing.T) {
		w := kvstore.NewWatcher("p", 4)
		defer w.Finish()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for range 100 {
			require.False(t, w.Emit(ctx, kvstore.KeyValueEvent{Key: "k"}))
		}
		require.Empty(t, w.Events)
	})

	t.Run("blocked Emit returns on ctx end", func(t *testing.T) {
		w := kvstore.NewWatcher("p", 0)
		defer w.Finish()
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan bool, 1)
		go func() { res <- w.Emit(ctx, kvstore.KeyValueEvent{Key: "k"}) }()
		cancel()
		require.False(t, <-res)
	})

	t.Run("blocked Emit returns on Stop", func(t *testing.T) {
		w := kvstore.NewWatcher("p", 0)
		res := make(chan bool, 1)
		go func() {
			defer w.Finish()
			res <- w.Emit(context.Background(), kvstore.KeyValueEvent{Key: "k"})
		}()
		w.Stop()
		require.False(t, <-res)
	})

	t.Run("Emit with a reader", func(t *testing.T) {
		w := kvstore.NewWatcher("p", 0)
		defer w.Finish()
		got := make(chan kvstore.KeyValueEvent, 1)
		go func() { got <- <-w.Events }()
		require.True(t, w.Emit(context.Background(), kvstore.KeyValueEvent{Typ: kvstore.EventTypeModify, Key: "k"}))
		require.Equal(t, kvstore.KeyValueEvent{Typ: kvstore.EventTypeModify, Key: "k"}, <-got)
	})
}
