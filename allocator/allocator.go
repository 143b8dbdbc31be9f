package allocator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/logfallback"
)

// Allocator gives keys IDs on a Backend, for one node.
//
// It keeps a reference count per key: the first Allocate of a key on this
// Allocator (firstUse) reaches the store, later ones only count, and the
// last Release (lastUse) deletes this node's slave key. Calls for the same
// key are serialised; calls for different keys run in parallel.
//
// NewAllocator starts a watch of the master keys (the cache behind Get,
// GetByID and ForeachCache, and the source of Events), the re-creation of
// this node's keys (periodic, and at once after a lease loss; WithoutGC
// turns it off, as in Cilium) and, only with WithGCInterval, GC rounds.
// Close stops them and waits for every call in progress; once it has
// returned, no call of this Allocator writes to the store. It does not
// delete this node's slave keys (they go with the client's lease, or with
// Release).
type Allocator struct {
	backend Backend
	txn     txnBackend // nil: lock protocol only
	opts    options
	log     logrus.FieldLogger
	cache   *cache
	pool    *pool

	mu    sync.Mutex
	local map[string]*localKey
	// unreleased holds keys whose last Release failed to delete this
	// node's slave key, or whose failed Allocate may have written it (a
	// lost reply): the periodic sync deletes it, unless the key was
	// allocated again meanwhile. (The slave key would otherwise keep the
	// ID alive for as long as this node's lease.)
	unreleased map[string]ID
	// released remembers the ID of keys whose last reference this node
	// released, while the cache names that ID for the key: allocating the
	// key again right away reuses it (checked in the store under the
	// key's lock) instead of a random ID.
	released map[string]ID

	// pendingExpired holds keys whose slave key expired with its lease,
	// waiting for the re-creation worker (batched, see sync.go).
	pendingExpired map[string]struct{}
	expiredWake    chan struct{}

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	closed atomic.Bool

	bgMu     sync.Mutex // orders goBackground against Close
	bgClosed bool
	wg       sync.WaitGroup // background goroutines
	calls    sync.WaitGroup // Allocate and Release calls in progress
}

// NewAllocator returns an Allocator on b. It validates the options (a
// clear error for min > max, an empty range, a nil b) and starts the watch
// of the master keys; WaitForInitialSync waits for its first list.
func NewAllocator(b Backend, opts ...Option) (*Allocator, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: NewAllocator needs a Backend (see NewKVStoreBackend)", ErrNoBackend)
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Allocator{
		backend: b,
		txn:     asTxn(b),
		opts:    o,
		log:     logfallback.Or(o.log).WithField("subsys", "allocator"),
		pool:    newPool(o.min, o.max, o.mask),
		local:   map[string]*localKey{},

		unreleased:     map[string]ID{},
		released:       map[string]ID{},
		pendingExpired: map[string]struct{}{},
		expiredWake:    make(chan struct{}, 1),
		ctx:            ctx,
		cancel:         cancel,
	}
	a.cache = newCache(a.cacheChanged)
	a.goBackground(func() { b.ListAndWatch(ctx, a.cache) })
	if !o.noLocalSync {
		a.startSync()
	}
	if o.gcInterval > 0 {
		a.startGC()
	}
	return a, nil
}

// cacheChanged runs on the watch goroutine for every change of the cache.
func (a *Allocator) cacheChanged(typ changeType, id ID, key string) {
	switch typ {
	case changeListDone:
		a.pool.resynced()
		return
	case changeUpsert:
		a.pool.seen(id)
	case changeDelete:
		a.pool.seen(id)
		a.mu.Lock()
		if a.released[key] == id {
			delete(a.released, key)
		}
		a.mu.Unlock()
	}
	if a.opts.events == nil {
		return
	}
	ev := Event{Typ: kvstore.EventTypeCreate, ID: id, Key: key}
	if typ == changeDelete {
		ev.Typ = kvstore.EventTypeDelete
	}
	select {
	case a.opts.events <- ev:
	case <-a.ctx.Done():
	}
}

// WaitForInitialSync returns once the cache holds the master keys of the
// first list, or with ctx's error, or ErrClosed.
func (a *Allocator) WaitForInitialSync(ctx context.Context) error {
	select {
	case <-a.cache.synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-a.ctx.Done():
		return ErrClosed
	}
}

// Get returns the ID of key: from this node's keys, else the cache, else
// the store (GetNoCache). An unknown key gives (NoID, nil).
func (a *Allocator) Get(ctx context.Context, key string) (ID, error) {
	if key == "" {
		return NoID, ErrEmptyKey
	}
	if id := a.localID(key); id != NoID {
		return id, nil
	}
	if id, _ := a.cache.id(key); id != NoID {
		return id, nil
	}
	return a.GetNoCache(ctx, key)
}

// GetNoCache returns the ID of key as the store's slave keys say, NoID if
// no node uses it.
func (a *Allocator) GetNoCache(ctx context.Context, key string) (ID, error) {
	if key == "" {
		return NoID, ErrEmptyKey
	}
	return a.backend.Get(ctx, key)
}

// GetByID returns the key of id from the cache, else the store; "" when the
// ID is free.
func (a *Allocator) GetByID(ctx context.Context, id ID) (string, error) {
	if k, ok := a.cache.key(id); ok {
		return k, nil
	}
	return a.backend.GetByID(ctx, id)
}

// ForeachCache calls fn for every ID in the cache, in ID order, on a
// snapshot: fn may call the Allocator.
func (a *Allocator) ForeachCache(fn func(ID, string)) { a.cache.foreach(fn) }

// RunGC runs one GC round over this Allocator's range; see Backend.RunGC.
// Like every call that writes, it fails with ErrClosed after Close, and
// Close interrupts and waits for a round in progress.
func (a *Allocator) RunGC(ctx context.Context, limiter *rate.Limiter, staleKeysPrevRound map[string]uint64) (map[string]uint64, *GCStats, error) {
	ctx, leave, err := a.enter(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer leave()
	stale, stats, err := a.backend.RunGC(ctx, limiter, staleKeysPrevRound, a.opts.min|a.opts.mask, a.opts.max|a.opts.mask)
	a.opts.metrics.gc(stats)
	return stale, stats, a.closedErr(err)
}

// RunLocksGC runs one round of the stale lock GC; see Backend.RunLocksGC.
// After Close it fails with ErrClosed.
func (a *Allocator) RunLocksGC(ctx context.Context, staleLocksPrevRound map[string]kvstore.Value) (map[string]kvstore.Value, error) {
	ctx, leave, err := a.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	stale, err := a.backend.RunLocksGC(ctx, staleLocksPrevRound)
	return stale, a.closedErr(err)
}

// Close stops the watch, the sync and the GC, interrupts the Allocate and
// Release calls in progress (they return ErrClosed, or the store error of
// an interrupted write), and waits for all of them: once Close has
// returned, no call of this Allocator writes to the store. Calls after
// Close fail with ErrClosed. Close is idempotent; a second Close returns
// at once.
func (a *Allocator) Close() {
	if a.closed.Swap(true) {
		return
	}
	a.bgMu.Lock()
	a.bgClosed = true
	a.bgMu.Unlock()
	a.cancel()
	a.calls.Wait()
	a.wg.Wait()
}

// enter registers an Allocate or Release call that Close waits for, and
// returns its ctx, which also ends at Close. It fails with ErrClosed once
// Close has begun.
func (a *Allocator) enter(ctx context.Context) (context.Context, func(), error) {
	a.bgMu.Lock()
	if a.bgClosed {
		a.bgMu.Unlock()
		return nil, nil, ErrClosed
	}
	a.calls.Add(1)
	a.bgMu.Unlock()
	cctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(a.ctx, cancel)
	return cctx, func() {
		stop()
		cancel()
		a.calls.Done()
	}, nil
}

// closedErr returns ErrClosed, wrapping err, when Close interrupted the
// call that failed with err; else err.
func (a *Allocator) closedErr(err error) error {
	if err != nil && a.ctx.Err() != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w (interrupted: %w)", ErrClosed, err)
	}
	return err
}

// goBackground runs f on a goroutine that Close waits for, unless Close
// has begun.
func (a *Allocator) goBackground(f func()) {
	a.bgMu.Lock()
	defer a.bgMu.Unlock()
	if a.bgClosed {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// localID returns the ID of key if this node holds it. It never waits for
// a call on the key in progress (which may wait for the store): then the
// cache answers. It counts as a user of the entry while it looks, so that
// a caller giving up meanwhile cannot mistake its lock for a holder's.
func (a *Allocator) localID(key string) ID {
	a.mu.Lock()
	lk := a.local[key]
	if lk != nil {
		lk.users++
	}
	a.mu.Unlock()
	if lk == nil {
		return NoID
	}
	if !lk.tryLock() {
		a.done(key, lk, 1) // the holder decides whether the entry goes
		return NoID
	}
	id, refs := lk.id, lk.refs
	lk.unlock()
	a.done(key, lk, refs)
	if refs > 0 {
		return id
	}
	return NoID
}

// acquire returns the entry of key, created if needed, counted as used.
func (a *Allocator) acquire(key string) *localKey {
	a.mu.Lock()
	defer a.mu.Unlock()
	lk := a.local[key]
	if lk == nil {
		lk = newLocalKey()
		a.local[key] = lk
	}
	lk.users++
	return lk
}

// done drops a use of key's entry, and the entry once nobody uses it and
// it holds no reference.
func (a *Allocator) done(key string, lk *localKey, refs int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	lk.users--
	if lk.users == 0 && refs == 0 && a.local[key] == lk {
		delete(a.local, key)
	}
}

// check refuses an empty key, and any call after Close.
func (a *Allocator) check(key string) error {
	if key == "" {
		return ErrEmptyKey
	}
	if a.closed.Load() {
		return ErrClosed
	}
	return nil
}
