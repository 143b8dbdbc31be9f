package store

import (
	"bytes"
	"context"

	"strings"
	"sync"
	"time"

	"github.com/hivekv/kvstore"
)

// opOverhead approximates the framing of one operation in a transaction
// request (field tags, lengths, the lease ID), for the MaxBatchBytes bound.
const opOverhead = 32

// maxFailures caps the failure count of a key (its backoff is long capped).
const maxFailures = 1000

// batch is one write of a worker: keys (and maybe the synced marker) and the
// operations that write them, in the same order.
type batch struct {
	keys   []*entry
	ops    []kvstore.Op
	marker bool
	// size approximates the request's bytes (the MaxBatchBytes bound).
	size int
	// retry: every key of the batch was in a write that failed with an
	// unknown outcome (see write).
	retry bool
	cmps  []kvstore.Cmp
}

// Run implements SyncStore.
func (s *syncStore) Run(ctx context.Context) {
	if s.initErr != nil {
		s.log.WithError(s.initErr).Error("Not running an invalid sync store")
		return
	}
	if !s.running.CompareAndSwap(false, true) {
		s.log.WithError(ErrAlreadyRunning).Error("Sync store is already running: ignoring the second Run")
		return
	}
	defer s.running.Store(false)
	if s.lease {
		stopKeys := observeLeaseExpired(s.backend, s.keyPrefix, s.onKeyLeaseExpired)
		stopMarker := observeLeaseExpired(s.backend, s.markerKey, s.onMarkerLeaseExpired)
		defer stopMarker()
		defer stopKeys()
	}
	s.log.WithField("batched", s.txn != nil).Info("Starting sync store")

	var wg sync.WaitGroup
	for range s.workers {
		wg.Go(func() { s.worker(ctx) })
	}
	if s.resync > 0 && s.lister != nil {
		wg.Go(func() { s.resyncLoop(ctx) })
	}
	wg.Wait()

	s.metrics.initialSync.Set(0)
	s.log.Info("Stopped sync store")
}

// worker writes batches until ctx ends.
func (s *syncStore) worker(ctx context.Context) {
	maxOps := 1
	if s.txn != nil {
		maxOps = kvstore.MaxTxnOps
	}
	b := &batch{}
	for ctx.Err() == nil {
		next := s.take(b, maxOps)
		if len(b.ops) == 0 {
			s.wait(ctx, next)
			continue
		}
		s.fillKeys(b)
		err := s.write(ctx, b)
		for _, cb := range s.complete(ctx, b, err) {
			cb(ctx)
		}
	}
}

// wait blocks until a worker may have work: a signal, the next retry due, or
// the end of ctx.
func (s *syncStore) wait(ctx context.Context, next time.Time) {
	var timeout <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(time.Until(next))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-s.wake:
	case <-timeout:
	case <-ctx.Done():
	}
}

// take fills b with the next keys to write: up to maxOps operations and
// MaxBatchBytes, oldest first, plus the synced marker when it is due. It
// returns when the next delayed write is due (zero if none).
func (s *syncStore) take(b *batch, maxOps int) time.Time {
	clear(b.keys)
	clear(b.ops)
	clear(b.cmps)
	b.keys, b.ops, b.cmps, b.marker, b.size, b.retry = b.keys[:0], b.ops[:0], b.cmps[:0], false, 0, true

	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	next := s.queue.promote(now)
	size := 0
	for len(b.ops) < maxOps && s.queue.ready() > 0 {
		e := s.queue.peek()
		n := len(s.keyPrefix) + len(e.name) + len(e.value) + opOverhead
		if len(b.ops) > 0 && (size+n > MaxBatchBytes || e.solo) {
			break
		}
		if e.solo {
			maxOps = 1
		}
		s.queue.pop()
		size += n
		b.retry = b.retry && e.failures > 0
		e.state = stateInflight
		b.keys = append(b.keys, e)
		// The key is filled in by fillKeys, outside the lock.
		if e.deleted {
			b.ops = append(b.ops, kvstore.OpDelete(""))
		} else {
			b.ops = append(b.ops, kvstore.OpPut("", e.value, s.lease))
		}
	}
	// The marker goes once every key upserted before Synced is written;
	// with transactions it rides along with later keys.
	m := &s.marker
	if m.dirty && !m.inflight && s.pendingSync == 0 && len(b.ops) < maxOps && (s.txn != nil || len(b.ops) == 0) {
		if m.due.After(now) {
			if next.IsZero() || m.due.Before(next) {
				next = m.due
			}
		} else {
			m.dirty, m.inflight, b.marker = false, true, true
			b.ops = append(b.ops, kvstore.OpPut(s.markerKey, []byte(now.UTC().Format(time.RFC3339)), s.lease))
		}
	}
	b.size = size
	b.retry = b.retry && len(b.keys) > 0 && !b.marker
	if s.queue.ready() > 0 {
		s.signal()
	}
	return next
}

// fillKeys sets the stored key of each key operation of b (names never
// change, so this needs no lock: the upserting caller is not held up by it).
func (s *syncStore) fillKeys(b *batch) {
	for i, e := range b.keys {
		b.ops[i].Key = s.keyOf(e.name)
	}
}

// writeTimeout bounds one write. A write in flight when the server lost its
// leader would otherwise wait for as long as Run lives; bounded, it fails,
// its keys are retried with backoff, and the store converges soon after the
// cluster heals. A retried write is harmless: puts are idempotent and a
// delete of a missing key is not an error.
const writeTimeout = 10 * time.Second

// write sends b: one transaction, or one single write without transactions.
func (s *syncStore) write(ctx context.Context, b *batch) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if s.txn != nil {
		_, err := s.txn.Txn(ctx, s.txnOf(b))
		return err
	}
	op := b.ops[0]
	if op.Kind == kvstore.OpKindDelete {
		return s.backend.Delete(ctx, op.Key)
	}
	return s.backend.Update(ctx, op.Key, op.Value, op.Lease)
}

// txnOf is the transaction that writes b. A retry of a write whose outcome
// is unknown (it timed out: under load, etcd often applied it all the same)
// writes only if the keys do not already hold what it writes: If every put
// key has its value and every deleted key is missing, nothing is written,
// Else everything is. A write applied the first time is then not applied a
// second time, which would be a second event for every watcher of the keys
// (a fleet's watchers: hundreds per write) exactly when the server is
// slowest. A transaction is atomic, so the previous attempt wrote all of its
// keys or none. The comparisons double the request; a batch too large for
// that is written unconditionally.
func (s *syncStore) txnOf(b *batch) kvstore.Txn {
	if !b.retry || 2*b.size > MaxBatchBytes {
		return kvstore.Txn{Then: b.ops}
	}
	for _, op := range b.ops {
		if op.Kind == kvstore.OpKindDelete {
			b.cmps = append(b.cmps, kvstore.CmpMissing(op.Key))
		} else {
			b.cmps = append(b.cmps, kvstore.CmpValue(op.Key, op.Value))
		}
	}
	return kvstore.Txn{If: b.cmps, Else: b.ops}
}

// complete books the outcome of b and returns the Synced callbacks to run
// now (once the marker is written for the first time). A failed write may
// have been applied: its keys are written again, whole, after their backoff
// (puts are idempotent, deleting a missing key is fine). A write cut short
// by the end of Run is queued again without backoff.
func (s *syncStore) complete(ctx context.Context, b *batch, err error) []func(context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	spread := jitter() // one for the whole batch: its keys retry as one batch
	stopping := err != nil && ctx.Err() != nil
	refused := err != nil && !stopping && kvstore.RefusedBeforeSending(err)
	if !stopping {
		s.metrics.health.failed(err)
	}
	switch {
	case err == nil || stopping:
	case refused && len(b.ops) > 1:
		s.log.WithError(err).WithField("keys", len(b.ops)).Info("Backend refused a batch: writing its keys one by one")
	case refused:
		s.metrics.syncErrors.Add(1)
		s.log.WithError(err).WithField("key", b.ops[0].Key).
			Error("Backend refused the key: dropping its write until the key changes")
	default:
		s.metrics.syncErrors.Add(float64(len(b.ops)))
		s.log.WithError(err).WithField("keys", len(b.ops)).Warn("Failed writing keys to the kvstore. Retrying...")
	}
	for _, e := range b.keys {
		switch {
		case err == nil || (refused && len(b.ops) == 1):
			// Written, or never writable as it is: either way the
			// marker must not wait for it.
			if e.failures > 0 {
				s.forgetLocked(e.name)
			}
			e.failures, e.solo = 0, false
			if e.pendingSync {
				e.pendingSync = false
				s.pendingSync--
			}
			s.settleLocked(e)
		case refused:
			e.solo = true
			fallthrough
		case stopping:
			e.requeue = false
			e.state = stateQueued
			s.queue.push(e)
		default:
			e.requeue = false
			if e.failures < maxFailures {
				e.failures++
			}
			e.state = stateDelayed
			s.queue.delay(e, now.Add(s.backoffLocked(e.name, int(e.failures), err, spread)))
		}
	}
	var callbacks []func(context.Context)
	if b.marker {
		m := &s.marker
		m.inflight = false
		switch {
		case err == nil:
			if m.failures > 0 {
				s.forgetLocked(markerItem{})
			}
			m.written, m.failures = true, 0
			s.metrics.initialSync.Set(1)
			if !m.callbacksRun {
				m.callbacksRun = true
				callbacks, m.callbacks = m.callbacks, nil
				s.log.WithField("key", s.markerKey).Info("Initial synchronization from the external source completed")
			}
		case stopping || refused:
			m.dirty = true
		default:
			m.failures++
			m.dirty = true
			m.due = now.Add(s.backoffLocked(markerItem{}, m.failures, err, spread))
		}
	}
	s.checkMarkerLocked()
	if s.queue.ready() > 0 || len(s.queue.delayed) > 0 || s.marker.dirty {
		// Another worker may sleep on an older deadline.
		s.signal()
	}
	return callbacks
}

// settleLocked ends the write of e that succeeded.
func (s *syncStore) settleLocked(e *entry) {
	if e.requeue {
		e.requeue = false
		e.state = stateQueued
		if s.queue.push(e) {
			s.signal()
		}
		return
	}
	e.state = stateIdle
	s.pending--
	s.metrics.queueSize.Set(float64(s.pending))
	if e.deleted {
		delete(s.entries, e.name)
	}
}

// instanceObserver is the per-instance lease-expiry registration of every
// kvstore.BackendOperations (ObserveLeaseExpired).
type instanceObserver interface {
	ObserveLeaseExpired(prefix string, fn func(key string)) (stop func())
}

// observeLeaseExpired registers fn for the keys under prefix lost with their
// lease and returns its removal. It uses the backend's per-instance
// registration, so that a store replaced on the same client and prefix keeps
// its observer when this one stops. A backend with only the reference's
// per-prefix RegisterLeaseExpiredObserver gets that, and with it the
// reference's limit: stopping removes the prefix's observer, whoever set it.
func observeLeaseExpired(b SyncStoreBackend, prefix string, fn func(key string)) (stop func()) {
	if o, ok := b.(instanceObserver); ok {
		return o.ObserveLeaseExpired(prefix, fn)
	}
	b.RegisterLeaseExpiredObserver(prefix, fn)
	return func() { b.RegisterLeaseExpiredObserver(prefix, nil) }
}

// onKeyLeaseExpired re-writes a key lost with the client's lease.
func (s *syncStore) onKeyLeaseExpired(key string) {
	name, ok := strings.CutPrefix(key, s.keyPrefix)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[name]
	if e == nil || e.deleted {
		return
	}
	if !s.marker.written && s.marker.requested && !e.pendingSync {
		// The marker must still wait for this key.
		e.pendingSync = true
		s.pendingSync++
	}
	s.enqueueLocked(e)
}

// onMarkerLeaseExpired re-writes the synced marker lost with the lease; the
// Synced callbacks do not run again.
func (s *syncStore) onMarkerLeaseExpired(key string) {
	if key != s.markerKey {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.marker.written && !s.marker.inflight {
		s.marker.dirty = true
		s.signal()
	}
}

// pruneUnknown deletes the keys under the store's prefix that it does not
// own: what an earlier writer of the prefix left behind. Only for a store
// that owns its prefix alone (a Mirror's copy of one remote cluster). It
// needs a backend with ListPrefix, and returns the number of keys deleted.
func (s *syncStore) pruneUnknown(ctx context.Context) (int, error) {
	if s.lister == nil || s.initErr != nil {
		return 0, nil
	}
	kvs, err := s.lister.ListPrefix(ctx, s.keyPrefix)
	if err != nil {
		return 0, err
	}
	var unknown []string
	s.mu.Lock()
	for key := range kvs {
		name := key[len(s.keyPrefix):]
		if e := s.entries[name]; e == nil || s.keyOf(name) != key {
			unknown = append(unknown, key)
		}
	}
	s.mu.Unlock()
	for _, key := range unknown {
		if err := s.backend.Delete(ctx, key); err != nil {
			return 0, err
		}
	}
	if len(unknown) > 0 {
		s.log.WithField("keys", len(unknown)).Info("Deleted keys left behind by an earlier writer of the prefix")
	}
	return len(unknown), nil
}

// resyncLoop re-writes, every resync interval, the keys that someone else
// deleted or changed.
func (s *syncStore) resyncLoop(ctx context.Context) {
	t := time.NewTicker(s.resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.resyncOnce(ctx)
		}
	}
}

func (s *syncStore) resyncOnce(ctx context.Context) {
	kvs, err := s.lister.ListPrefix(ctx, s.keyPrefix)
	if err != nil {
		if ctx.Err() == nil {
			s.log.WithError(err).Warn("Unable to list the store's keys for the periodic resync")
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for name, e := range s.entries {
		// Keys with a write pending are written anyway.
		if e.state != stateIdle || e.deleted {
			continue
		}
		if kv, ok := kvs[s.keyOf(name)]; !ok || !bytes.Equal(kv.Data, e.value) {
			s.enqueueLocked(e)
			n++
		}
	}
	if n > 0 {
		s.log.WithField("keys", n).Info("Re-writing keys deleted or changed behind the sync store's back")
	}
}
