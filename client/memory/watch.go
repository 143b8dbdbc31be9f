package memory

import (
	"context"
	"sort"

	"github.com/hivekv/kvstore"
)

// feed is the store side of one watcher: an unbounded queue of the events
// under prefix that the watcher has not taken yet. Writers append to it under
// the store lock and never wait for the consumer; a slow consumer only makes
// its own queue longer.
//
// All fields are guarded by Store.mu, except signal, which has room for one
// wake-up: a writer that finds it full knows the watcher will look anyway.
type feed struct {
	prefix string
	queue  []storeEvent
	// resync is set by Compact when the queue still held events: the
	// history the watcher needs is gone and it must list again.
	resync bool
	signal chan struct{}
}

func (f *feed) pushLocked(ev storeEvent) {
	f.queue = append(f.queue, ev)
	f.wake()
}

func (f *feed) compactLocked() {
	if len(f.queue) == 0 {
		return
	}
	f.queue = nil
	f.resync = true
	f.wake()
}

func (f *feed) wake() {
	select {
	case f.signal <- struct{}{}:
	default:
	}
}

// snapshotLocked lists prefix, sorted by key.
func (s *Store) snapshotLocked(prefix string) []kvstore.KeyValueEvent {
	keys := s.keysLocked(prefix)
	out := make([]kvstore.KeyValueEvent, len(keys))
	for i, k := range keys {
		out[i] = kvstore.KeyValueEvent{Key: k, Value: clone(s.kvs[k].value)}
	}
	return out
}

// subscribe lists prefix and registers a feed in the same critical section,
// so that every later write lands in the feed and none before it does.
func (s *Store) subscribe(prefix string) (*feed, []kvstore.KeyValueEvent) {
	f := &feed{prefix: prefix, signal: make(chan struct{}, 1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers[f] = struct{}{}
	return f, s.snapshotLocked(prefix)
}

func (s *Store) unsubscribe(f *feed) {
	s.mu.Lock()
	delete(s.watchers, f)
	s.mu.Unlock()
}

// take empties f's queue. If f must resync it returns a fresh listing
// instead (and relist=true); events after that listing queue up again.
func (s *Store) take(f *feed) (events []storeEvent, listing []kvstore.KeyValueEvent, relist bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.resync {
		f.resync = false
		f.queue = nil
		return nil, s.snapshotLocked(f.prefix), true
	}
	events, f.queue = f.queue, nil
	return events, nil, false
}

// ListAndWatch implements kvstore.BackendOperations. The initial listing is
// taken before it returns, so a write that follows the call is always seen,
// as part of the listing or as an event. The events are emitted by a
// goroutine that ends, closing Events, on Stop, on ctx's end or on Close.
func (c *client) ListAndWatch(ctx context.Context, prefix string, chanSize int) *kvstore.Watcher {
	w := kvstore.NewWatcher(prefix, chanSize)
	if c.begin(ctx) != nil {
		w.Finish()
		return w
	}
	f, listing := c.store.subscribe(prefix)
	started := c.goBackground(func() {
		defer w.Finish()
		defer c.store.unsubscribe(f)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(c.ctx, cancel)
		defer stop()
		c.watch(ctx, w, f, listing)
	})
	if !started {
		c.store.unsubscribe(f)
		w.Finish()
	}
	return w
}

// watch emits the listing, ListDone, then the feed, until ctx ends or the
// watcher is stopped.
func (c *client) watch(ctx context.Context, w *kvstore.Watcher, f *feed, listing []kvstore.KeyValueEvent) {
	// known is what the consumer has been told exists, for resyncs.
	known := make(map[string]struct{}, len(listing))
	for _, ev := range listing {
		ev.Typ = kvstore.EventTypeCreate
		if !w.Emit(ctx, ev) {
			return
		}
		known[ev.Key] = struct{}{}
	}
	if !w.Emit(ctx, kvstore.KeyValueEvent{Typ: kvstore.EventTypeListDone}) {
		return
	}
	for {
		events, listing, relist := c.store.take(f)
		if relist {
			c.log.WithField("prefix", f.prefix).Debug("Watcher fell behind a compaction, listing again")
			if !resync(ctx, w, known, listing) {
				return
			}
			continue
		}
		for _, sev := range events {
			ev := kvstore.KeyValueEvent{Typ: sev.typ, Key: sev.key, Value: clone(sev.value)}
			if !w.Emit(ctx, ev) {
				return
			}
			if sev.typ == kvstore.EventTypeDelete {
				delete(known, sev.key)
			} else {
				known[sev.key] = struct{}{}
			}
		}
		if len(events) > 0 {
			continue
		}
		select {
		case <-f.signal:
		case <-ctx.Done():
			return
		case <-w.Stopping():
			return
		}
	}
}

// resync reports a fresh listing as the difference to what the consumer
// knows: Modify for keys it knows (possibly repeating their value), Create
// for keys new to it, then Delete, sorted by key, for keys that vanished.
func resync(ctx context.Context, w *kvstore.Watcher, known map[string]struct{}, listing []kvstore.KeyValueEvent) bool {
	present := make(map[string]struct{}, len(listing))
	for _, ev := range listing {
		ev.Typ = kvstore.EventTypeCreate
		if _, ok := known[ev.Key]; ok {
			ev.Typ = kvstore.EventTypeModify
		}
		if !w.Emit(ctx, ev) {
			return false
		}
		present[ev.Key] = struct{}{}
		known[ev.Key] = struct{}{}
	}
	var vanished []string
	for k := range known {
		if _, ok := present[k]; !ok {
			vanished = append(vanished, k)
		}
	}
	sort.Strings(vanished)
	for _, k := range vanished {
		if !w.Emit(ctx, kvstore.KeyValueEvent{Typ: kvstore.EventTypeDelete, Key: k}) {
			return false
		}
		delete(known, k)
	}
	return true
}
