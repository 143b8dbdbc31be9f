package faults

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/hivekv/kvstore"
)

// WatchView follows a ListAndWatch and keeps the key-value view its events
// describe. Its consumer can be held (Block) so that the watcher falls
// behind, as a slow consumer would.
type WatchView struct {
	w *kvstore.Watcher

	mu       sync.Mutex
	view     map[string]string
	listDone bool
	events   []WatchEvent
	gate     chan struct{} // closed while the consumer may read
	done     chan struct{}
}

// NewWatchView starts ListAndWatch(prefix, chanSize) on b and consumes it
// until Stop.
func NewWatchView(ctx context.Context, b kvstore.BackendOperations, prefix string, chanSize int) *WatchView {
	v := &WatchView{view: map[string]string{}, gate: make(chan struct{}), done: make(chan struct{})}
	close(v.gate)
	v.w = b.ListAndWatch(ctx, prefix, chanSize)
	go v.consume()
	return v
}

func (v *WatchView) consume() {
	defer close(v.done)
	for {
		v.mu.Lock()
		gate := v.gate
		v.mu.Unlock()
		select {
		case <-gate:
		case <-v.w.Stopping():
			return
		}
		ev, ok := <-v.w.Events
		if !ok {
			return
		}
		v.mu.Lock()
		v.events = append(v.events, WatchEvent{Typ: ev.Typ, Key: ev.Key, Value: string(ev.Value)})
		switch ev.Typ {
		case kvstore.EventTypeCreate, kvstore.EventTypeModify:
			v.view[ev.Key] = string(ev.Value)
		case kvstore.EventTypeDelete:
			delete(v.view, ev.Key)
		case kvstore.EventTypeListDone:
			v.listDone = true
		}
		v.mu.Unlock()
	}
}

// Block stops consuming events until Unblock; the watcher's buffer fills
// and it falls behind the store.
func (v *WatchView) Block() {
	v.mu.Lock()
	v.gate = make(chan struct{})
	v.mu.Unlock()
}

// Unblock resumes consuming.
func (v *WatchView) Unblock() {
	v.mu.Lock()
	select {
	case <-v.gate:
	default:
		close(v.gate)
	}
	v.mu.Unlock()
}

// View returns a copy of the current view and whether the initial list
// was complete.
func (v *WatchView) View() (map[string]string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.view), v.listDone
}

// Events returns the events consumed so far, in order.
func (v *WatchView) Events() []WatchEvent {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.events)
}

// Stop stops the watcher and waits for the consumer.
func (v *WatchView) Stop() {
	v.Unblock()
	v.w.Stop()
	<-v.done
}

// Converged compares the view with pairs (a ListPrefix of the same prefix)
// and describes the first difference, or returns nil.
func (v *WatchView) Converged(pairs kvstore.KeyValuePairs) error {
	view, listed := v.View()
	if !listed {
		return fmt.Errorf("initial list never completed")
	}
	for k, val := range pairs {
		got, ok := view[k]
		switch {
		case !ok:
			return fmt.Errorf("key %q (%q in the store) missing from the watcher's view", k, val.Data)
		case got != string(val.Data):
			return fmt.Errorf("key %q is %q in the watcher's view, %q in the store", k, got, val.Data)
		}
	}
	for k, got := range view {
		if _, ok := pairs[k]; !ok {
			return fmt.Errorf("key %q (%q) in the watcher's view is not in the store", k, got)
		}
	}
	return nil
}
