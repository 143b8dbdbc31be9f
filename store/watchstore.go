package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/logfallback"
)

// watchChanSize is the Events buffer a WatchStore asks of the backend: the
// backend can read ahead while the observer works.
const watchChanSize = 128

// watchStore is the restartable WatchStore.
//
// Contract: the observer is called from the goroutine running Watch (or
// Drain), one call at a time, in the order of the backend's events; at the
// first ListDone of a Watch, OnDelete is called for every key known from an
// earlier Watch that the new list did not contain. After a resync of the
// backend's watch (no ListDone), Modify events repeat current values: they
// reach the observer as OnUpdate again.
type watchStore struct {
	cluster    string
	keyCreator KeyCreator
	observer   Observer
	log        logrus.FieldLogger
	m          *Metrics
	initErr    error

	watching atomic.Bool
	synced   atomic.Bool

	mu      sync.Mutex
	entries map[string]Key
	// stale holds, from the start of a Watch to its ListDone, the names
	// known before that the new list has not yet reported. It is nil
	// otherwise, so that a store that never restarts pays nothing for it.
	stale   map[string]struct{}
	onSync  []func(context.Context) // cleared once run
	metrics storeMetrics
	// entriesGauge is RWSWithEntriesMetric's gauge (nil: none).
	entriesGauge prometheus.Gauge
}

func newWatchStore(cluster string, keyCreator KeyCreator, observer Observer, o watchStoreOpts, m *Metrics) *watchStore {
	w := &watchStore{
		cluster:    cluster,
		keyCreator: keyCreator,
		observer:   observer,
		log:        logfallback.Or(o.log).WithFields(logrus.Fields{"subsys": "kvstore-watch-store", "cluster": cluster}),
		m:          m,
		entries:    map[string]Key{},
		onSync:     o.onSync,
		metrics:    noopMetrics(),

		entriesGauge: o.entries,
	}
	switch {
	case keyCreator == nil:
		w.initErr = fmt.Errorf("%w: a watch store needs a KeyCreator to decode values (e.g. store.KVPairCreator)", ErrNoKeyCreator)
	case observer == nil:
		w.initErr = fmt.Errorf("%w: a watch store needs an Observer to report to", ErrNoObserver)
	}
	if w.initErr != nil {
		w.log.WithError(w.initErr).Error("Invalid watch store: it will watch nothing")
	}
	return w
}

// Watch implements WatchStore.
func (w *watchStore) Watch(ctx context.Context, backend WatchStoreBackend, prefix string) {
	log := w.log.WithField("prefix", prefix)
	switch {
	case w.initErr != nil:
		log.WithError(w.initErr).Error("Not watching with an invalid watch store")
		return
	case prefix == "":
		log.WithError(ErrEmptyPrefix).Error("Not watching: a watch store needs a prefix")
		return
	case backend == nil:
		log.WithError(ErrNoBackend).Error("Not watching: a watch store needs a backend")
		return
	}
	if !w.watching.CompareAndSwap(false, true) {
		log.WithError(ErrAlreadyRunning).Error("Watch store is already watching: ignoring the second Watch")
		return
	}
	defer w.watching.Store(false)
	if !strings.HasSuffix(prefix, "/") {
		// So that cluster1/ never matches cluster10/...
		prefix += "/"
	}
	w.mu.Lock()
	w.metrics = w.m.forWatchStore(strings.TrimSuffix(prefix, "/"), w.cluster)
	w.stale = nil
	if len(w.entries) > 0 {
		w.stale = make(map[string]struct{}, len(w.entries))
		for name := range w.entries {
			w.stale[name] = struct{}{}
		}
	}
	w.mu.Unlock()

	log.Info("Starting restartable watch store")
	watcher := backend.ListAndWatch(ctx, prefix, watchChanSize)
	for ev := range watcher.Events {
		w.handle(ctx, prefix, ev)
	}
	w.synced.Store(false)
	w.metrics.initialSync.Set(0)
	log.Info("Stopped restartable watch store")
}

// handle applies one event.
func (w *watchStore) handle(ctx context.Context, prefix string, ev kvstore.KeyValueEvent) {
	switch ev.Typ {
	case kvstore.EventTypeCreate, kvstore.EventTypeModify:
		name := strings.TrimPrefix(ev.Key, prefix)
		k := w.keyCreator()
		if err := k.Unmarshal(name, ev.Value); err != nil {
			w.log.WithError(err).WithField("key", ev.Key).Warn("Unable to unmarshal value: dropping it")
			return
		}
		w.mu.Lock()
		n := len(w.entries)
		w.entries[name] = k
		if w.stale != nil {
			delete(w.stale, name)
		}
		if len(w.entries) != n {
			w.setEntriesLocked(float64(len(w.entries)))
		}
		w.mu.Unlock()
		w.observer.OnUpdate(k)

	case kvstore.EventTypeDelete:
		name := strings.TrimPrefix(ev.Key, prefix)
		w.mu.Lock()
		k, ok := w.entries[name]
		if ok {
			delete(w.entries, name)
			if w.stale != nil {
				delete(w.stale, name)
			}
			w.setEntriesLocked(float64(len(w.entries)))
		}
		w.mu.Unlock()
		if !ok {
			w.log.WithField("key", ev.Key).Debug("Received deletion event for unknown key")
			return
		}
		w.observer.OnDelete(k)

	case kvstore.EventTypeListDone:
		w.mu.Lock()
		gone := make([]Key, 0, len(w.stale))
		for name := range w.stale {
			gone = append(gone, w.entries[name])
			delete(w.entries, name)
		}
		w.stale = nil
		w.setEntriesLocked(float64(len(w.entries)))
		callbacks := w.onSync
		w.onSync = nil
		w.mu.Unlock()
		for _, k := range gone {
			w.observer.OnDelete(k)
		}
		w.synced.Store(true)
		w.metrics.initialSync.Set(1)
		for _, cb := range callbacks {
			cb(ctx)
		}
	}
}

// setEntriesLocked reports the number of keys held to the metrics.
func (w *watchStore) setEntriesLocked(n float64) {
	w.metrics.entries.Set(n)
	if w.entriesGauge != nil {
		w.entriesGauge.Set(n)
	}
}

// NumEntries implements WatchStore.
func (w *watchStore) NumEntries() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return uint64(len(w.entries))
}

// Synced implements WatchStore.
func (w *watchStore) Synced() bool { return w.synced.Load() }

// Drain implements WatchStore.
func (w *watchStore) Drain() {
	// Hold the watching flag so that no Watch starts meanwhile.
	if !w.watching.CompareAndSwap(false, true) {
		w.log.WithError(ErrAlreadyRunning).Error("Cannot drain the watch store while it is watching")
		return
	}
	defer w.watching.Store(false)
	w.mu.Lock()
	keys := make([]Key, 0, len(w.entries))
	for _, k := range w.entries {
		keys = append(keys, k)
	}
	clear(w.entries)
	w.setEntriesLocked(0)
	w.mu.Unlock()
	for _, k := range keys {
		w.observer.OnDelete(k)
	}
}
