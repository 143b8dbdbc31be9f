package conformance

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

// watchWait bounds the waits of the watch helpers: generous, because 10k
// keys under -race on a loaded machine take seconds, and a wait that
// succeeds returns as soon as its condition holds.
const watchWait = 60 * time.Second

// WatchRecorder applies the events of a Watcher to a map, as a consumer
// would, and checks the Watcher contract on every event: Create only for a
// key the map does not hold, Modify and Delete only for a key it holds,
// Delete without a value, ListDone exactly once and with empty key and
// value. Violations are collected and reported by Err.
//
// Apply may be called by hand (to control when events are read); Consume
// reads on a goroutine until Events is closed. The methods are safe for
// concurrent use.
type WatchRecorder struct {
	mu       sync.Mutex
	kv       map[string]string
	counts   map[kvstore.EventType]int
	deletes  map[string]int
	listDone int
	log      []kvstore.KeyValueEvent
	errs     []error
	check    func(ev kvstore.KeyValueEvent, before map[string]string) error
	done     chan struct{}
}

// NewWatchRecorder returns an empty recorder. check, if set, is called with
// every event and the state before it; an error it returns is a violation.
func NewWatchRecorder(check func(ev kvstore.KeyValueEvent, before map[string]string) error) *WatchRecorder {
	return &WatchRecorder{
		kv:      map[string]string{},
		counts:  map[kvstore.EventType]int{},
		deletes: map[string]int{},
		check:   check,
		done:    make(chan struct{}),
	}
}

// RecordWatch is NewWatchRecorder(nil) + Consume(tb, w).
func RecordWatch(tb testing.TB, w *kvstore.Watcher) *WatchRecorder {
	r := NewWatchRecorder(nil)
	r.Consume(tb, w)
	return r
}

// Consume reads w's events on a goroutine until Events is closed. At the
// end of the test it stops w and waits for the goroutine.
func (r *WatchRecorder) Consume(tb testing.TB, w *kvstore.Watcher) {
	go func() {
		defer close(r.done)
		for ev := range w.Events {
			r.Apply(ev)
		}
	}()
	tb.Cleanup(func() {
		w.Stop()
		<-r.done
	})
}

// Apply applies one event.
func (r *WatchRecorder) Apply(ev kvstore.KeyValueEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[ev.Typ]++
	r.log = append(r.log, kvstore.KeyValueEvent{Typ: ev.Typ, Key: ev.Key, Value: append([]byte(nil), ev.Value...)})
	if r.check != nil {
		if err := r.check(ev, r.kv); err != nil {
			r.errs = append(r.errs, err)
		}
	}
	_, present := r.kv[ev.Key]
	fail := func(format string, args ...any) {
		r.errs = append(r.errs, fmt.Errorf("%s %q: "+format, append([]any{ev.Typ, ev.Key}, args...)...))
	}
	switch ev.Typ {
	case kvstore.EventTypeCreate:
		if present {
			fail("created, but the consumer already has it")
		}
		r.kv[ev.Key] = string(ev.Value)
	case kvstore.EventTypeModify:
		if !present {
			fail("modified, but the consumer never got a Create")
		}
		r.kv[ev.Key] = string(ev.Value)
	case kvstore.EventTypeDelete:
		if !present {
			fail("deleted, but the consumer does not have it")
		}
		if len(ev.Value) != 0 {
			fail("a Delete carries a value (%d bytes)", len(ev.Value))
		}
		delete(r.kv, ev.Key)
		r.deletes[ev.Key]++
	case kvstore.EventTypeListDone:
		r.listDone++
		if r.listDone > 1 {
			fail("ListDone number %d", r.listDone)
		}
		if ev.Key != "" || len(ev.Value) != 0 {
			fail("ListDone with a key or value")
		}
	default:
		fail("unknown event type %d", ev.Typ)
	}
}

// State returns a copy of the consumer's view.
func (r *WatchRecorder) State() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.kv)
}

// ListDone returns how many ListDone events arrived.
func (r *WatchRecorder) ListDone() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listDone
}

// Count returns how many events of typ arrived.
func (r *WatchRecorder) Count(typ kvstore.EventType) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[typ]
}

// Events returns a copy of every event applied so far, in order.
func (r *WatchRecorder) Events() []kvstore.KeyValueEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]kvstore.KeyValueEvent(nil), r.log...)
}

// Deletes returns how many Delete events arrived for key.
func (r *WatchRecorder) Deletes(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deletes[key]
}

// Err returns the contract violations seen so far, or nil.
func (r *WatchRecorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.errs...)
}

// Closed is closed once Consume saw Events closed.
func (r *WatchRecorder) Closed() <-chan struct{} { return r.done }

// WaitListDone waits for the ListDone event.
func (r *WatchRecorder) WaitListDone(tb testing.TB) {
	tb.Helper()
	require.Eventually(tb, func() bool { return r.ListDone() > 0 }, watchWait, 5*time.Millisecond, "no ListDone")
}

// WaitConverged waits until the consumer's view equals ListPrefix(prefix)
// and then checks that no contract violation happened on the way.
func (r *WatchRecorder) WaitConverged(tb testing.TB, b kvstore.BackendOperations, prefix string) {
	tb.Helper()
	converged := func() bool { return maps.Equal(ListStrings(tb, b, prefix), r.State()) }
	if !assert.Eventually(tb, converged, watchWait, 10*time.Millisecond, "the watcher's view did not converge to ListPrefix") {
		require.Equal(tb, ListStrings(tb, b, prefix), r.State())
	}
	require.NoError(tb, r.Err())
}

// ListStrings returns ListPrefix(prefix) as a map of strings.
func ListStrings(tb testing.TB, b kvstore.BackendOperations, prefix string) map[string]string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pairs, err := b.ListPrefix(ctx, prefix)
	require.NoError(tb, err)
	out := make(map[string]string, len(pairs))
	for k, v := range pairs {
		out[k] = string(v.Data)
	}
	return out
}
