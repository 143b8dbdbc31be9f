package store

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/backoff"
	"github.com/hivekv/kvstore/internal/logfallback"
)

// prefixLister is the optional capability the periodic resync needs; every
// kvstore.BackendOperations has it.
type prefixLister interface {
	ListPrefix(ctx context.Context, prefix string) (kvstore.KeyValuePairs, error)
}

// syncStore is the SyncStore. Its state, under mu:
//
//   - entries holds every key it owns (and keys whose deletion is not yet
//     written) with the latest value and where the key is in the write
//     pipeline (see entry);
//   - the queue (fifo, delayed) orders the keys to write: a key is in at
//     most one place, so a key changed many times before its write is
//     written once, with its latest value; a key is never in two writes at
//     once, so writes of one key land in the order they were made;
//   - marker tracks the synced marker.
type syncStore struct {
	cluster   string
	prefix    string
	keyPrefix string // joinBase(prefix): what the names of stored keys follow
	backend   SyncStoreBackend
	txn       kvstore.Transactional // nil: one write per key
	lister    prefixLister          // nil: no periodic resync
	lease     bool
	workers   int
	resync    time.Duration
	markerKey string
	limiter   RateLimiter // nil: retryDelay
	log       logrus.FieldLogger
	metrics   storeMetrics
	initErr   error

	running atomic.Bool
	// wake holds a token when the queue may have work for an idle worker.
	wake chan struct{}

	mu          sync.Mutex
	entries     map[string]*entry
	queue       writeQueue
	pending     int // entries not idle: the queue-size metric
	synced      bool
	pendingSync int // entries upserted before Synced and not yet written
	marker      markerState
}

// entry is one key of a SyncStore.
type entry struct {
	name  string
	value []byte
	// retry numbers the backoffs of the key, so that a delayed-queue item
	// outdated by a later change is recognised.
	retry uint32
	// failures counts the consecutive failed writes.
	failures uint16
	deleted  bool // the key is to be deleted (value is nil)
	state    entryState
	// requeue: the key changed while its write was in flight; queue it
	// again when that write completes.
	requeue bool
	// pendingSync: upserted before Synced and not yet written.
	pendingSync bool
	// solo: the backend refused a batch holding this key before sending
	// it; write the key alone to find out which key it refuses.
	solo bool
}

type entryState uint8

const (
	stateIdle     entryState = iota // written, nothing to do
	stateQueued                     // in the fifo
	stateDelayed                    // waiting for its backoff
	stateInflight                   // in a write being sent
)

// markerState tracks the synced marker through the same pipeline.
type markerState struct {
	requested    bool // Synced was called
	callbacks    []func(context.Context)
	dirty        bool // needs a write once no key is pending sync
	inflight     bool
	written      bool
	failures     int
	due          time.Time
	callbacksRun bool
}

func newSyncStore(cluster string, backend SyncStoreBackend, prefix string, o syncStoreOpts, m *Metrics) *syncStore {
	s := &syncStore{
		cluster:   cluster,
		prefix:    prefix,
		keyPrefix: joinBase(prefix),
		backend:   backend,
		lease:     !o.withoutLease,
		workers:   o.workers,
		resync:    o.resyncInterval,
		limiter:   o.limiter,
		entries:   map[string]*entry{},
		wake:      make(chan struct{}, 1),
		metrics:   m.forSyncStore(prefix, cluster),
	}
	syncedKey := o.syncedKey
	if syncedKey == "" {
		syncedKey = prefix
	}
	s.markerKey = path.Join(kvstore.SyncedPrefix, cluster, syncedKey)
	markerBase := kvstore.SyncedPrefix + "/" + cluster + "/"
	s.log = logfallback.Or(o.log).WithFields(logrus.Fields{"subsys": "kvstore-sync-store", "prefix": prefix, "cluster": cluster})
	switch {
	case ValidateClusterName(cluster) != nil:
		// The name is a segment of the synced marker's key.
		s.initErr = fmt.Errorf("sync store of %q: %w", prefix, ValidateClusterName(cluster))
	case prefix == "":
		s.initErr = fmt.Errorf("%w: a sync store needs the prefix its keys live under", ErrEmptyPrefix)
	case !strings.HasPrefix(s.markerKey, markerBase):
		s.initErr = fmt.Errorf("%w: the synced marker of prefix %q (synced key %q) would be %q, outside %q",
			ErrKeyOutsidePrefix, prefix, syncedKey, s.markerKey, markerBase)
	case backend == nil:
		s.initErr = fmt.Errorf("%w: a sync store needs a backend to write to", ErrNoBackend)
	}
	if s.initErr != nil {
		s.log.WithError(s.initErr).Error("Invalid sync store: it will write nothing")
		return s
	}
	s.txn, _ = backend.(kvstore.Transactional)
	s.lister, _ = backend.(prefixLister)
	return s
}

// UpsertKey implements SyncStore. The slice returned by k.Marshal is kept
// until written: do not modify it afterwards.
func (s *syncStore) UpsertKey(_ context.Context, k Key) error {
	if s.initErr != nil {
		return s.initErr
	}
	name := k.GetKeyName()
	value, err := k.Marshal()
	if err != nil {
		return fmt.Errorf("%w %q: %w", ErrMarshal, name, err)
	}
	if err := s.checkName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[name]
	if e != nil && !e.deleted && bytes.Equal(e.value, value) {
		return nil
	}
	if e == nil {
		e = &entry{name: name}
		s.entries[name] = e
	}
	e.value, e.deleted = value, false
	if !s.synced && !e.pendingSync {
		e.pendingSync = true
		s.pendingSync++
	}
	s.enqueueLocked(e)
	return nil
}

// DeleteKey implements SyncStore.
func (s *syncStore) DeleteKey(_ context.Context, k NamedKey) error {
	if s.initErr != nil {
		return s.initErr
	}
	name := k.GetKeyName()
	if err := s.checkName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[name]
	if e == nil || e.deleted {
		s.log.WithField("key", name).Debug("Ignoring delete request for non-existing key")
		return nil
	}
	e.value, e.deleted = nil, true
	s.enqueueLocked(e)
	return nil
}

// Synced implements SyncStore.
func (s *syncStore) Synced(_ context.Context, callbacks ...func(context.Context)) error {
	if s.initErr != nil {
		return s.initErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.synced {
		return nil
	}
	s.synced = true
	s.marker.requested = true
	s.marker.callbacks = callbacks
	s.checkMarkerLocked()
	return nil
}

// enqueueLocked puts e on the way to be written.
func (s *syncStore) enqueueLocked(e *entry) {
	switch e.state {
	case stateIdle:
		s.pending++
		s.metrics.queueSize.Set(float64(s.pending))
		fallthrough
	case stateDelayed:
		// A fresh change is written at once, backoff or not; the
		// failure count stays until a write succeeds.
		if e.state == stateDelayed {
			s.queue.undelay()
		}
		e.state = stateQueued
		if s.queue.push(e) {
			s.signal()
		}
	case stateInflight:
		e.requeue = true
	}
}

// checkMarkerLocked asks for the marker to be written once Synced was called
// and every key upserted before it is written.
func (s *syncStore) checkMarkerLocked() {
	m := &s.marker
	if m.requested && !m.written && !m.dirty && !m.inflight && s.pendingSync == 0 {
		m.dirty = true
		s.signal()
	}
}

// signal wakes one idle worker, if any.
func (s *syncStore) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// checkName refuses a name that path.Join would place outside the store's
// prefix: it would overwrite keys the store does not own (a Mirror copies
// names chosen by a remote cluster).
func (s *syncStore) checkName(name string) error {
	if cleanName(name) {
		return nil
	}
	if p := keyPath(s.prefix, name); !strings.HasPrefix(p, s.keyPrefix) || p == s.keyPrefix {
		return fmt.Errorf("%w: key name %q of prefix %q would be stored at %q", ErrKeyOutsidePrefix, name, s.prefix, p)
	}
	return nil
}

// keyOf is where the key name is stored: keyPath(prefix, name), with one
// allocation for a clean name.
func (s *syncStore) keyOf(name string) string {
	if cleanName(name) {
		return s.keyPrefix + name
	}
	return keyPath(s.prefix, name)
}

// markerItem is the synced marker's item for a RateLimiter: a type of its
// own, so that it never equals a key name.
type markerItem struct{}

// backoffLocked is the delay before writing item again after its failures-th
// consecutive failure.
// A RateLimiter decides alone; otherwise the delay grows with failures, is
// at least overloadRetryDelay after a timeout or an overloaded server, and
// is scaled by spread, the jitter factor its whole batch shares.
func (s *syncStore) backoffLocked(item any, failures int, err error, spread float64) time.Duration {
	if s.limiter != nil {
		return s.limiter.When(item)
	}
	return jittered(retryDelayAfter(err, failures), spread)
}

// forgetLocked ends the failures of item, which had some.
func (s *syncStore) forgetLocked(item any) {
	if s.limiter != nil {
		s.limiter.Forget(item)
	}
}

// retryBackoff spaces the retries of a key, the key counting its failures.
// It has no jitter: keys that failed together (one batch) are retried
// together, in one batch again, and spreading them would multiply the
// requests of a store that is struggling.
var retryBackoff = backoff.Backoff{Min: minRetryDelay, Max: maxRetryDelay, Rand: func() float64 { return 0.5 }}

// retryDelay is the backoff after the n-th consecutive failure of a key.
func retryDelay[N uint16 | int](n N) time.Duration {
	return retryBackoff.Delay(int(n) - 1)
}
