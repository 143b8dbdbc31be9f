package kvstore

import (
	"context"
	"sync"
)

// EventType is the kind of a watch event.
type EventType int

const (
	// EventTypeCreate reports a key that is new to the watcher: listed
	// during the initial list, or created while watching.
	EventTypeCreate EventType = iota
	// EventTypeModify reports a new value of a key the watcher has
	// already reported. After a resync it may repeat the current value.
	EventTypeModify
	// EventTypeDelete reports a deleted key (Value is empty: etcd does not
	// return deleted values). After a resync it is synthesised for keys
	// that vanished while the watch was down.
	EventTypeDelete
	// EventTypeListDone is sent once, after the Create events of the
	// initial list. Its Key and Value are empty.
	EventTypeListDone
)

// String returns the lower-case name used in logs and metrics.
func (t EventType) String() string {
	switch t {
	case EventTypeCreate:
		return "create"
	case EventTypeModify:
		return "modify"
	case EventTypeDelete:
		return "delete"
	case EventTypeListDone:
		return "listDone"
	default:
		return "unknown"
	}
}

// KeyValueEvent is one change of a watched prefix.
type KeyValueEvent struct {
	// Typ is what happened to the key.
	Typ EventType
	// Key is the full key that changed; empty for ListDone.
	Key string
	// Value is the new value; empty for Delete and ListDone.
	Value []byte
}

// EventChan carries the events of a Watcher.
type EventChan chan KeyValueEvent

// Watcher is the consumer's handle on a ListAndWatch.
//
// Events arrive in this order: a Create for every key under Prefix at the
// list revision, exactly one ListDone, then Create/Modify/Delete in store
// revision order. If the watch breaks (compaction, lost leader, reconnect)
// the backend lists again and emits Modify for every key still present
// (values may repeat) and Delete for every key that vanished meanwhile, then
// resumes; no ListDone follows a resync. Applying the events to a map in
// order therefore always converges to what ListPrefix returns.
//
// A slow consumer slows the watcher down; events are never dropped. Events is
// closed once the watcher has stopped: after Stop, after the ctx given to
// ListAndWatch ends, or after the client is closed.
type Watcher struct {
	// Events delivers the events; it is closed when the watcher stops.
	Events EventChan
	// Prefix is the watched key prefix.
	Prefix string

	stop       chan struct{}
	stopOnce   sync.Once
	done       chan struct{}
	finishOnce sync.Once
}

// NewWatcher creates a watcher handle. It is meant for backend
// implementations: the backend's goroutine sends with Emit, watches
// Stopping, and must call Finish when it exits (later calls are no-ops).
func NewWatcher(prefix string, chanSize int) *Watcher {
	if chanSize < 0 {
		chanSize = 0
	}
	return &Watcher{
		Events: make(EventChan, chanSize),
		Prefix: prefix,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// Stop stops the watcher and returns once its goroutine has exited and
// Events is closed. Stop is idempotent and safe to call concurrently. It
// must not be called from the backend goroutine that feeds the watcher.
func (w *Watcher) Stop() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
}

// Stopping is closed when Stop has been called. For backends.
func (w *Watcher) Stopping() <-chan struct{} { return w.stop }

// Done is closed once the watcher has finished and Events is closed.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Emit sends ev to the consumer, blocking while the consumer is slow. It
// returns false, without sending, once ctx ends or Stop is called. For
// backends.
func (w *Watcher) Emit(ctx context.Context, ev KeyValueEvent) bool {
	// Check for the end first: a select with several ready cases picks one
	// at random, so with room in Events a single select would still send
	// after Stop about half of the time.
	select {
	case <-w.stop:
		return false
	case <-ctx.Done():
		return false
	default:
	}
	select {
	case w.Events <- ev:
		return true
	case <-ctx.Done():
		return false
	case <-w.stop:
		return false
	}
}

// Finish closes Events and releases Stop's callers. It is for backends: the
// goroutine that feeds the watcher calls it as it exits, after its last
// Emit. Consumers call Stop, never Finish. A second call does nothing.
func (w *Watcher) Finish() {
	w.finishOnce.Do(func() {
		w.stopOnce.Do(func() { close(w.stop) })
		close(w.Events)
		close(w.done)
	})
}
