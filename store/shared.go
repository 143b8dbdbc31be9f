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
// observer has seen OnUpdate for every key). A local key deleted by someone
// else is written again at once; local keys are re-written every
// SynchronizationInterval if they differ from the store. Observer calls
// come from the watch goroutine, except OnDelete of a local key, which
// DeleteLocalKey and Close call themselves.
type SharedStore struct {
	conf   Configuration
	log    logrus.FieldLogger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	localKeys  map[string]LocalKey
	sharedKeys map[string]Key
	// generation counts the events of each name, so that a delayed
	// OnDelete is skipped when the key re-appeared meanwhile.
	generation map[string]uint64
}

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
	if c.Logger == nil {
		c.Logger = logrus.StandardLogger()
	}
	s := &SharedStore{
		conf:       c,
		log:        c.Logger.WithFields(logrus.Fields{"subsys": "kvstore-shared-store", "prefix": c.Prefix}),
		localKeys:  map[string]LocalKey{},
		sharedKeys: map[string]Key{},
		generation: map[string]uint64{},
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

// watch applies the events of the prefix until the watcher stops.
func (s *SharedStore) watch(w *kvstore.Watcher, prefix string, listDone chan struct{}) {
	for ev := range w.Events {
		name := strings.TrimPrefix(ev.Key, prefix)
		switch ev.Typ {
		case kvstore.EventTypeListDone:
			close(listDone)
		case kvstore.EventTypeCreate, kvstore.EventTypeModify:
			k := s.conf.KeyCreator()
			if err := k.Unmarshal(name, ev.Value); err != nil {
				s.log.WithError(err).WithField("key", ev.Key).Warn("Unable to unmarshal value: dropping it")
				continue
			}
			s.mu.Lock()
			s.sharedKeys[name] = k
			s.generation[name]++
			s.mu.Unlock()
			if s.conf.Observer != nil {
				s.conf.Observer.OnUpdate(k)
			}
		case kvstore.EventTypeDelete:
			s.onDelete(name)
		}
	}
}

func (s *SharedStore) onDelete(name string) {
	s.mu.Lock()
	local, isLocal := s.localKeys[name]
	shared, isShared := s.sharedKeys[name]
	delete(s.sharedKeys, name)
	s.generation[name]++
	gen := s.generation[name]
	s.mu.Unlock()
	switch {
	case isLocal:
		s.log.WithField("key", name).Warn("Received delete event for local key. Re-creating the key in the kvstore")
		if err := s.conf.Backend.Update(s.ctx, s.keyPath(local), mustMarshal(s.log, local), true); err != nil && s.ctx.Err() == nil {
			s.log.WithError(err).WithField("key", name).Warn("Unable to re-create local key; the periodic sync retries")
		}
	case !isShared:
		s.log.WithField("key", name).Debug("Received delete event for unknown key")
	case s.conf.SharedKeyDeleteDelay <= 0:
		if s.conf.Observer != nil {
			s.conf.Observer.OnDelete(shared)
		}
	default:
		s.wg.Go(func() {
			t := time.NewTimer(s.conf.SharedKeyDeleteDelay)
			defer t.Stop()
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
			s.mu.Lock()
			reappeared := s.generation[name] != gen
			s.mu.Unlock()
			if reappeared {
				s.log.WithField("key", name).Warn("Received delete event for key which re-appeared within delay time window")
				return
			}
			if s.conf.Observer != nil {
				s.conf.Observer.OnDelete(shared)
			}
		})
	}
}

// mustMarshal marshals a local key that marshalled before; a failure now is
// logged and writes an empty value rather than nothing.
func mustMarshal(log logrus.FieldLogger, k Key) []byte {
	v, err := k.Marshal()
	if err != nil {
		log.WithError(err).WithField("key", k.GetKeyName()).Error("Unable to marshal local key")
	}
	return v
}

// syncLoop re-writes the local keys that differ from the store.
func (s *SharedStore) syncLoop() {
	t := time.NewTicker(s.conf.SynchronizationInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		keys := make([]LocalKey, 0, len(s.localKeys))
		for _, k := range s.localKeys {
			keys = append(keys, k)
		}
		s.mu.Unlock()
		for _, k := range keys {
			v, err := k.Marshal()
			if err != nil {
				continue
			}
			if _, err := s.conf.Backend.UpdateIfDifferent(s.ctx, s.keyPath(k), v, true); err != nil && s.ctx.Err() == nil {
				s.log.WithError(err).WithField("key", k.GetKeyName()).Warn("Unable to synchronize local key")
			}
		}
	}
}

// UpdateLocalKeySync writes key with the client's lease and, once written,
// remembers a copy of it as local: it is re-created if someone deletes it.
func (s *SharedStore) UpdateLocalKeySync(ctx context.Context, key LocalKey) error {
	if err := s.UpdateKeySync(ctx, key, true); err != nil {
		return err
	}
	s.mu.Lock()
	s.localKeys[key.GetKeyName()] = key.DeepKeyCopy()
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
// local, calls OnDelete.
func (s *SharedStore) DeleteLocalKey(ctx context.Context, key NamedKey) {
	name := key.GetKeyName()
	s.mu.Lock()
	_, wasLocal := s.localKeys[name]
	delete(s.localKeys, name)
	s.mu.Unlock()
	if err := s.conf.Backend.Delete(ctx, s.keyPath(key)); err != nil {
		s.log.WithError(err).WithField("key", name).Warn("Unable to delete key")
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
