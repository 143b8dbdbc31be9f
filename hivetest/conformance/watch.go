package conformance

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

// watchCases check ListAndWatch: the event contract of kvstore.Watcher
// (Create/ListDone/Create-Modify-Delete in revision order), that a consumer's
// view always converges to ListPrefix — across paginated lists racing with
// writers and across compactions — and how a watcher ends.
func watchCases() []Case {
	return []Case{
		{"EventsFollowTheListInRevisionOrder", watchEventOrder},
		{"ListDoneOnceOnEmptyPrefix", watchEmptyPrefix},
		{"SlowConsumerLosesNothing", watchSlowConsumer},
		{"PaginatedListWithConcurrentWriters", watchListWithWriters},
		{"CompactionWhileBlockedResyncs", watchCompactionWhileBlocked},
		{"StopClosesEventsAndIsIdempotent", watchStop},
		{"CtxCancelClosesEvents", watchCtxCancel},
		{"CloseClosesEvents", watchClientClose},
	}
}

// watchCtx is the ctx of a watcher: unlike caseCtx it has no deadline, the
// case decides when the watcher ends.
func watchCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// nextEvent reads one event, failing the test if none comes.
func nextEvent(t testing.TB, w *kvstore.Watcher) kvstore.KeyValueEvent {
	t.Helper()
	select {
	case ev, ok := <-w.Events:
		require.True(t, ok, "Events closed early")
		return ev
	case <-time.After(watchWait):
		t.Fatalf("no event within %s", watchWait)
		return kvstore.KeyValueEvent{}
	}
}

// requireClosed waits for Events to be closed, discarding what is left.
func requireClosed(t testing.TB, w *kvstore.Watcher) {
	t.Helper()
	timeout := time.After(watchWait)
	for {
		select {
		case _, ok := <-w.Events:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatalf("Events not closed within %s", watchWait)
		}
	}
}

func watchEventOrder(t *testing.T, b Backend) {
	prefix := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, prefix)
	ctx := caseCtx(t)
	for _, k := range []string{"c", "a", "b"} {
		require.NoError(t, c.Update(ctx, prefix+k, []byte("v-"+k), false))
	}
	r := RecordWatch(t, c.ListAndWatch(watchCtx(t), prefix, 4))
	r.WaitListDone(t)

	// Keys that only share the prefix' text without its trailing "/" are
	// outside the prefix.
	require.NoError(t, c.Update(ctx, prefix[:len(prefix)-1]+"x", []byte("outside"), false))
	require.NoError(t, c.Update(ctx, prefix+"d", []byte("1"), false))
	require.NoError(t, c.Update(ctx, prefix+"d", []byte("2"), false))
	require.NoError(t, c.Delete(ctx, prefix+"d"))
	require.NoError(t, c.Update(ctx, prefix+"d", []byte("3"), false))
	require.NoError(t, c.Update(ctx, prefix+"a", []byte("a2"), false))
	require.NoError(t, c.Delete(ctx, prefix+"b"))
	require.NoError(t, c.Delete(ctx, prefix+"missing"))
	r.WaitConverged(t, c, prefix)

	ev := func(typ kvstore.EventType, k, v string) kvstore.KeyValueEvent {
		e := kvstore.KeyValueEvent{Typ: typ}
		if k != "" {
			e.Key = prefix + k
		}
		if v != "" {
			e.Value = []byte(v)
		}
		return e
	}
	want := []kvstore.KeyValueEvent{
		ev(kvstore.EventTypeCreate, "a", "v-a"),
		ev(kvstore.EventTypeCreate, "b", "v-b"),
		ev(kvstore.EventTypeCreate, "c", "v-c"),
		ev(kvstore.EventTypeListDone, "", ""),
		ev(kvstore.EventTypeCreate, "d", "1"),
		ev(kvstore.EventTypeModify, "d", "2"),
		ev(kvstore.EventTypeDelete, "d", ""),
		ev(kvstore.EventTypeCreate, "d", "3"),
		ev(kvstore.EventTypeModify, "a", "a2"),
		ev(kvstore.EventTypeDelete, "b", ""),
	}
	require.Eventually(t, func() bool { return len(r.Events()) >= len(want) }, watchWait, 5*time.Millisecond)
	require.Equal(t, want, normalize(r.Events()), "the listed keys in key order, one ListDone, then every change in order")
}

// normalize makes empty values nil, so that events compare equal whatever
// the backend uses for "no value".
func normalize(evs []kvstore.KeyValueEvent) []kvstore.KeyValueEvent {
	for i := range evs {
		if len(evs[i].Value) == 0 {
			evs[i].Value = nil
		}
	}
	return evs
}

func watchEmptyPrefix(t *testing.T, b Backend) {
	prefix := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, prefix)
	w := c.ListAndWatch(watchCtx(t), prefix, 0)
	first := nextEvent(t, w)
	require.Equal(t, kvstore.EventTypeListDone, first.Typ, "an empty prefix lists nothing but still ends its list")

	r := RecordWatch(t, w)
	require.NoError(t, c.Update(caseCtx(t), prefix+"k", []byte("v"), false))
	r.WaitConverged(t, c, prefix)
	require.Zero(t, r.ListDone(), "ListDone is sent once, after the first list only")
}

// watchSlowConsumer writes while nobody reads: the writers must not wait for
// the consumer and the consumer must later get every single change.
func watchSlowConsumer(t *testing.T, b Backend) {
	const keys, writes = 3, 50
	prefix := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, prefix)
	ctx := caseCtx(t)
	w := c.ListAndWatch(watchCtx(t), prefix, 0)
	require.Equal(t, kvstore.EventTypeListDone, nextEvent(t, w).Typ)

	for n := 1; n <= writes; n++ {
		for k := range keys {
			require.NoError(t, c.Update(ctx, keyf(prefix, "%d", k), []byte(strconv.Itoa(n)), false))
		}
	}
	r := NewWatchRecorder(nil)
	for range keys * writes {
		r.Apply(nextEvent(t, w))
	}
	require.NoError(t, r.Err())
	require.Equal(t, keys, r.Count(kvstore.EventTypeCreate))
	require.Equal(t, keys*(writes-1), r.Count(kvstore.EventTypeModify), "every write is one event, none dropped or merged")
	for k := range keys {
		require.Equal(t, strconv.Itoa(writes), r.State()[keyf(prefix, "%d", k)])
	}
}

func watchStop(t *testing.T, b Backend) {
	prefix := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, prefix)
	ctx := caseCtx(t)
	for i := range 3 {
		require.NoError(t, c.Update(ctx, keyf(prefix, "%d", i), []byte("v"), false))
	}
	// Unbuffered and unread: the watcher is blocked sending the first
	// Create when Stop comes.
	w := c.ListAndWatch(watchCtx(t), prefix, 0)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Stop()
		}()
	}
	wg.Wait()
	select {
	case <-w.Done():
	default:
		t.Fatal("Stop returned before the watcher finished")
	}
	_, ok := <-w.Events
	require.False(t, ok, "Events must be closed once Stop returned")
	w.Stop()
}

func watchCtxCancel(t *testing.T, b Backend) {
	prefix := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, prefix)
	require.NoError(t, c.Update(caseCtx(t), prefix+"k", []byte("v"), false))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := c.ListAndWatch(ctx, prefix, 0)
	r := RecordWatch(t, w)
	r.WaitListDone(t)
	cancel()
	select {
	case <-r.Closed():
	case <-time.After(watchWait):
		t.Fatal("Events not closed after the watcher's ctx ended")
	}
	w.Stop()
	require.NoError(t, r.Err())

	// A watcher whose ctx is already over never starts.
	w = c.ListAndWatch(ctx, prefix, 10)
	requireClosed(t, w)
}

func watchClientClose(t *testing.T, b Backend) {
	prefix := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, prefix)
	require.NoError(t, c.Update(caseCtx(t), prefix+"k", []byte("v"), false))
	other := b.New(t, nil, nil)
	r := RecordWatch(t, other.ListAndWatch(watchCtx(t), prefix, 0))
	r.WaitListDone(t)
	other.Close()
	select {
	case <-r.Closed():
	case <-time.After(watchWait):
		t.Fatal("Events not closed after Close")
	}
	requireClosed(t, other.ListAndWatch(watchCtx(t), prefix, 10))
}

// watchCompactionWhileBlocked stalls the watcher between its list and its
// watch (chanSize 1, nobody reading), deletes and writes keys and compacts
// the history past the list revision. The watcher cannot replay the missed
// changes: it must list again and synthesise the Deletes.
func watchCompactionWhileBlocked(t *testing.T, b Backend) {
	prefix := hivetest.UniquePrefix(t)
	c := newCaseClient(t, b, prefix)
	ctx := caseCtx(t)
	for i := range 10 {
		require.NoError(t, c.Update(ctx, keyf(prefix, "%02d", i), []byte("v0"), false))
	}
	w := c.ListAndWatch(watchCtx(t), prefix, 1)
	require.Eventually(t, func() bool { return len(w.Events) == 1 }, watchWait, time.Millisecond,
		"the watcher never filled its buffer")

	for i := range 5 {
		require.NoError(t, c.Delete(ctx, keyf(prefix, "%02d", i)))
	}
	require.NoError(t, c.Update(ctx, keyf(prefix, "%02d", 7), []byte("v1"), false))
	require.NoError(t, c.Update(ctx, keyf(prefix, "%02d", 10), []byte("new"), false))
	b.Compact(t)

	first := nextEvent(t, w)
	require.Equal(t, kvstore.EventTypeCreate, first.Typ)
	require.Equal(t, keyf(prefix, "%02d", 0), first.Key)
	r := NewWatchRecorder(nil)
	r.Apply(first)
	r.Consume(t, w)
	r.WaitConverged(t, c, prefix)
	require.Equal(t, 1, r.ListDone())
	for i := range 5 {
		k := keyf(prefix, "%02d", i)
		if i == 0 {
			require.Equal(t, 1, r.Deletes(k), "the consumer had %s: it must get a Delete", k)
		}
		require.NotContains(t, r.State(), k)
	}
	require.Equal(t, "v1", r.State()[keyf(prefix, "%02d", 7)])
}

// watchListWithWriters lists 10,000 keys in pages of 100 while writers
// update, delete and recreate them. Every value is a per-key counter that
// only grows, so the consumer can check that no event is lost or reordered
// and that its final view holds each key's last write.
func watchListWithWriters(t *testing.T, b Backend) {
	// 100 pages of 20 keys: as many pages (round trips that writers can
	// come between) as 10,000 keys in pages of 100, for a fifth of the
	// writes, so that the case stays fast on 2 cores under -race.
	const (
		numKeys    = 2000
		pageSize   = "20"
		numWriters = 4
		afterList  = 300                         // writes per writer once the list is done
		stride     = numKeys / (numWriters * 64) // spreads a writer's 64 hot keys over the range
	)
	prefix := hivetest.UniquePrefix(t)
	c := newCaseClientWith(t, b, prefix, map[string]string{kvstore.EtcdListLimitOption: pageSize}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	key := func(i int) string { return keyf(prefix, "%05d", i) }

	parallel(t, 16, numKeys, func(i int) error { return c.Update(ctx, key(i), []byte("0"), false) })

	// Writers put 1, 2, 3, ... into each key (deletes in between take no
	// number). The list may show any value, but from ListDone on the watch
	// must deliver every put: each value is the previous one plus one.
	lastSeen := map[string]int{}
	listed := false
	check := func(ev kvstore.KeyValueEvent, _ map[string]string) error {
		switch ev.Typ {
		case kvstore.EventTypeListDone:
			listed = true
			return nil
		case kvstore.EventTypeDelete:
			return nil
		}
		n, err := strconv.Atoi(string(ev.Value))
		if err != nil {
			return fmt.Errorf("%s: value %q: %w", ev.Key, ev.Value, err)
		}
		prev, seen := lastSeen[ev.Key]
		lastSeen[ev.Key] = n
		switch {
		case !listed || !seen:
			return nil
		case n != prev+1:
			return fmt.Errorf("%s: got value %d after %d: updates were lost or reordered", ev.Key, n, prev)
		}
		return nil
	}
	r := NewWatchRecorder(check)

	// Each writer owns every numWriters-th key, so it knows each key's
	// last value: the final view must hold exactly these.
	finals := make([]map[string]string, numWriters)
	var wg sync.WaitGroup
	errs := make(chan error, numWriters)
	started := make(chan struct{}, numWriters)
	for wi := range numWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			final := map[string]string{}
			counter := map[int]int{}
			for op, after := 0, 0; after < afterList; op++ {
				if op == 20 {
					started <- struct{}{}
				}
				if r.ListDone() > 0 {
					after++
				}
				// 64 hot keys per writer, spread over the whole
				// range so that they land on many pages.
				i := wi + numWriters*((op%64)*stride)
				var err error
				if _, exists := final[key(i)]; exists && op%5 == 4 {
					err = c.Delete(ctx, key(i))
					delete(final, key(i))
				} else {
					counter[i]++
					v := strconv.Itoa(counter[i])
					err = c.Update(ctx, key(i), []byte(v), false)
					final[key(i)] = v
				}
				if err != nil {
					errs <- err
					return
				}
			}
			finals[wi] = final
		}()
	}
	// Wait until every writer is under way; a writer that fails before
	// then never signals, so watch its error and the deadline too.
	for range numWriters {
		select {
		case <-started:
		case err := <-errs:
			t.Fatalf("a writer failed before the watch started: %v", err)
		case <-ctx.Done():
			t.Fatalf("writers not under way: %v", ctx.Err())
		}
	}
	r.Consume(t, c.ListAndWatch(watchCtx(t), prefix, 16))
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	r.WaitConverged(t, c, prefix)
	require.Equal(t, 1, r.ListDone())

	state := r.State()
	for wi, final := range finals {
		for k, v := range final {
			require.Equal(t, v, state[k], "writer %d's last write of %s", wi, k)
		}
	}
}

// parallel runs fn(0..n-1) on workers goroutines and fails on the first
// error.
func parallel(t testing.TB, workers, n int, fn func(i int) error) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	require.Empty(t, errs)
}
