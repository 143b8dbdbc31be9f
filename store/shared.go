package store

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/config"
	"github.com/hivekv/kvstore/internal/logfallback"
)

// DefaultInitialListTimeout is how long JoinSharedStore waits for the
// initial list of its prefix.
const DefaultInitialListTimeout = 3 * time.Minute

// sharedWatchChanSize is the Events buffer of a SharedStore's watch.
const sharedWatchChanSize = 100

// Configuration configures a SharedStore.
type Configuration struct {
	// Prefix is where the keys live (required).
	Prefix string
	// SynchronizationInterval is how often local keys are re-written if
	// they differ from the store (default --kvstore-periodic-sync's 5 min).
	SynchronizationInterval time.Duration
	// SharedKeyDeleteDelay delays OnDelete of a key deleted by someone
	// else; a key that re-appears meanwhile is not reported deleted.
	SharedKeyDeleteDelay time.Duration
	// KeyCreator decodes keys (required).
	KeyCreator KeyCreator
	// Backend is the kvstore (required: unlike Cilium v1.16, there is no
	// global client to default to).
	Backend kvstore.BackendOperations
	// Observer receives the changes (optional).
	Observer Observer
	// Context bounds the store's life (default: context.Background();
	// Release and Close end it too).
	Context context.Context

	// InitialListTimeout bounds the wait for the initial list (default
	// DefaultInitialListTimeout).
	InitialListTimeout time.Duration
	// Logger is the store's logger (default: logrus' standard logger).
	Logger logrus.FieldLogger
}

// SharedStore is the older combined reader and writer of a prefix, kept for
// callers of Cilium v1.16's API: every participant writes its local keys
// synchronously and watches everyone's. New code uses SyncStore and
// WatchStore.
//
// Contract: JoinSharedStore returns once the initial list is in (the
// observer has seen OnUpdate for every key). Observer calls come from the
// watch goroutine, one at a time and in event order, delayed OnDelete calls
// included (so a delayed OnDelete never overtakes a later OnUpdate of the
// key); the exception is OnDelete of a local key, which DeleteLocalKey and
// Close call themselves. A local key deleted by someone else is written
// again at once, in the background (bounded by localKeyRecreateTimeout; the
// periodic sync retries a failure); local keys are re-written every
// SynchronizationInterval if they differ from the store. The writes of one
// local key (UpdateLocalKeySync, DeleteLocalKey, the re-creation and the
// periodic sync) are serialised, so a key DeleteLocalKey deleted is never
// written again by a write that started before it.
type SharedStore struct {
	conf   Configuration
	log    logrus.FieldLogger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// locks serialises the writes of each local key.
	locks keyLocks

	mu         sync.Mutex
	localKeys  map[string]LocalKey
	sharedKeys map[string]Key
	// pendingDelete maps the names with a delayed OnDelete pending to the
	// number of the deletion (from lastDelete); an event of the name
	// removes the entry, so a delayed OnDelete whose number no longer
	// matches is outdated. Entries live only while a delay runs.
	pendingDelete map[string]uint64
	lastDelete    uint64
	// due holds the delayed deletions whose delay ran out, for the watch
	// goroutine to deliver; dueSignal wakes it.
	due       []dueDelete
	dueSignal chan struct{}
	// recreating marks the local keys being re-created in the background;
	// true: deleted again meanwhile, re-create once more.
	recreating map[string]bool
}

// dueDelete is a delayed OnDelete whose delay ran out.
type dueDelete struct {
	name string
	n    uint64
	key  Key
}

// localKeyRecreateTimeout bounds the re-creation of a local key deleted by
// someone else; a failure is logged and left to the periodic sync.
const localKeyRecreateTimeout = 30 * time.Second

// JoinSharedStore validates c, starts watching its prefix and returns once
// the initial list is in.
func JoinSharedStore(c Configuration) (*SharedStore, error) {
	switch {
	case c.Prefix == "":
		return nil, fmt.Errorf("%w: prefix must be specified", ErrEmptyPrefix)
	case c.KeyCreator == nil:
		return nil, fmt.Errorf("%w: KeyCreator must be specified", ErrNoKeyCreator)
	case c.Backend == nil:
		return nil, fmt.Errorf("%w: Backend must be specified", ErrNoBackend)
	}
	if c.SynchronizationInterval <= 0 {
		c.SynchronizationInterval = config.DefaultPeriodicSync
	}
	if c.InitialListTimeout <= 0 {
		c.InitialListTimeout = DefaultInitialListTimeout
	}
	if c.Context == nil {
		c.Context = context.Background()
	}
	c.Logger = logfallback.Or(c.Logger)
	s := &SharedStore{
		conf:          c,
		log:           c.Logger.WithFields(logrus.Fields{"subsys": "kvstore-shared-store", "prefix": c.Prefix}),
		localKeys:     map[string]LocalKey{},
		sharedKeys:    map[string]Key{},
		pendingDelete: map[string]uint64{},
		dueSignal:     make(chan struct{}, 1),
		recreating:    map[string]bool{},
	}
	s.ctx, s.cancel = context.WithCancel(c.Context)

	listDone, watchEnded := make(chan struct{}), make(chan struct{})
	watchPrefix := strings.TrimSuffix(c.Prefix, "/") + "/"
	w := c.Backend.ListAndWatch(s.ctx, watchPrefix, sharedWatchChanSize)
	s.wg.Go(func() {
		defer close(watchEnded)
		s.watch(w, watchPrefix, listDone)
	})

	timer := time.NewTimer(c.InitialListTimeout)
	defer timer.Stop()
	select {
	case <-listDone:
	case <-watchEnded:
		s.Release()
		if err := s.ctx.Err(); err != nil {
			return nil, fmt.Errorf("joining shared store %q: %w", c.Prefix, err)
		}
		return nil, fmt.Errorf("joining shared store %q: the watch ended before the initial list (client closed?)", c.Prefix)
	case <-timer.C:
		s.Release()
		return nil, fmt.Errorf("%w (prefix %q, waited %s)", ErrInitialListTimeout, c.Prefix, c.InitialListTimeout)
	case <-s.ctx.Done():
		s.Release()
		return nil, fmt.Errorf("joining shared store %q: %w", c.Prefix, s.ctx.Err())
	}
	s.wg.Go(s.syncLoop)
	return s, nil
}

func (s *SharedStore) keyPath(k NamedKey) string { return keyPath(s.conf.Prefix, k.GetKeyName()) }

// UpdateLocalKeySync writes key with the client's lease and, once written,
// remembers a copy of it as local: it is re-created if someone deletes it.
// It waits (bounded by ctx) for another write of the same local key to
// finish first. A DeleteLocalKey of the key that gives up waiting for this
// write (its ctx ended) wins: the key is then not remembered.
func (s *SharedStore) UpdateLocalKeySync(ctx context.Context, key LocalKey) error {
	name := key.GetKeyName()
	l, err := s.locks.lock(ctx, name)
	if err != nil {
		return fmt.Errorf("updating local key %q: waiting for another write of the key: %w", name, err)
	}
	defer s.locks.unlock(l)
	if err := s.UpdateKeySync(ctx, key, true); err != nil {
		return err
	}
	s.mu.Lock()
	if !l.forgotten() {
		s.localKeys[name] = key.DeepKeyCopy()
	}
	s.mu.Unlock()
	return nil
}

// UpdateKeySync writes key (with the client's lease if lease) without
// remembering it.
func (s *SharedStore) UpdateKeySync(ctx context.Context, key LocalKey, lease bool) error {
	v, err := key.Marshal()
	if err != nil {
		return fmt.Errorf("%w %q: %w", ErrMarshal, key.GetKeyName(), err)
	}
	return s.conf.Backend.Update(ctx, s.keyPath(key), v, lease)
}

// DeleteLocalKey forgets key, deletes it from the store and, if it was
// local, calls OnDelete. It waits (bounded by ctx) for a write of the same
// local key in progress, so that the write cannot re-create the key after
// the delete. If ctx ends first, the key is forgotten (nothing re-creates
// it, and the write in progress does not make it local) but its copy in
// the store stays until its lease ends; the failure is logged.
func (s *SharedStore) DeleteLocalKey(ctx context.Context, key NamedKey) {
	name := key.GetKeyName()
	l, err := s.locks.lock(ctx, name)
	if err != nil {
		// Before forgetting the key: the write in progress checks it
		// under mu before it remembers the key.
		s.locks.forget(name)
	}
	s.mu.Lock()
	_, wasLocal := s.localKeys[name]
	delete(s.localKeys, name)
	s.mu.Unlock()
	if err != nil {
		s.log.WithError(err).WithField("key", name).Warn("Unable to delete key: another write of it is in progress; it goes with its lease")
	} else {
		err = s.conf.Backend.Delete(ctx, s.keyPath(key))
		s.locks.unlock(l)
		if err != nil {
			s.log.WithError(err).WithField("key", name).Warn("Unable to delete key")
		}
	}
	if wasLocal && s.conf.Observer != nil {
		s.conf.Observer.OnDelete(key)
	}
}

// NumEntries is the number of keys seen in the store (nil-safe).
func (s *SharedStore) NumEntries() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sharedKeys)
}

// SharedKeysMap returns a copy of the keys seen in the store, by name.
func (s *SharedStore) SharedKeysMap() map[string]Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.sharedKeys)
}

// Release stops watching and synchronising; the keys stay in the store.
// It returns once the store's goroutines have exited.
func (s *SharedStore) Release() {
	s.cancel()
	s.wg.Wait()
}

// Close releases the store and deletes its local keys (OnDelete for each).
func (s *SharedStore) Close(ctx context.Context) {
	s.Release()
	s.mu.Lock()
	keys := make([]LocalKey, 0, len(s.localKeys))
	for _, k := range s.localKeys {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	for _, k := range keys {
		s.DeleteLocalKey(ctx, k)
	}
}
