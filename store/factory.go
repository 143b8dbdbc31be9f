package store

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/logfallback"
)

// SyncStoreBackend is what a SyncStore needs of a backend (the reference's
// interface); every kvstore.BackendOperations is one. A backend that also
// implements kvstore.Transactional gets its writes batched. One that also
// has ObserveLeaseExpired (every kvstore.BackendOperations) gets the
// store's lease-expiry observers registered per store, so that a store
// replacing another on the same client and prefix keeps re-creating its keys
// after the old one stops; with RegisterLeaseExpiredObserver alone, the
// stopping store removes the prefix's observer.
type SyncStoreBackend interface {
	Update(ctx context.Context, key string, value []byte, lease bool) error
	Delete(ctx context.Context, key string) error
	RegisterLeaseExpiredObserver(prefix string, fn func(key string))
}

// WatchStoreBackend is what a WatchStore needs of a backend; every
// kvstore.BackendOperations is one.
type WatchStoreBackend interface {
	ListAndWatch(ctx context.Context, prefix string, chanSize int) *kvstore.Watcher
}

// SyncStore writes the keys of one process under a prefix and keeps them
// there. All methods are safe for concurrent use.
type SyncStore interface {
	// Run writes queued keys until ctx ends and returns once its workers
	// have exited. Keys may be queued before Run; those not yet written
	// when it returns are written by the next Run. A second Run while one
	// is running logs ErrAlreadyRunning and returns at once.
	Run(ctx context.Context)

	// UpsertKey records k's value as the latest for its name and queues
	// the write; an unchanged value is a no-op. A Marshal failure is
	// returned (ErrMarshal) and nothing is queued. Store errors are never
	// returned: the write is retried in the background.
	UpsertKey(ctx context.Context, k Key) error

	// DeleteKey forgets k and queues its deletion. A key the store does
	// not know is ignored.
	DeleteKey(ctx context.Context, k NamedKey) error

	// Synced says the initial set of keys is complete: once every key
	// upserted before the call is written, the store writes its synced
	// marker cilium/synced/<cluster>/<prefix> (value: RFC 3339 time) and
	// then runs callbacks, once, with Run's ctx. Only the first call
	// counts. It does not wait.
	Synced(ctx context.Context, callbacks ...func(context.Context)) error
}

// WatchStore keeps a view of a prefix for an Observer.
type WatchStore interface {
	// Watch lists and watches prefix (with a "/" appended if missing) on
	// backend until ctx ends, calling the observer in event order. Keys
	// known from a previous Watch that are gone at the first ListDone are
	// deleted then. A second Watch while one runs logs ErrAlreadyRunning
	// and returns at once.
	Watch(ctx context.Context, backend WatchStoreBackend, prefix string)
	// NumEntries is the number of keys held.
	NumEntries() uint64
	// Synced reports that the running Watch has seen its ListDone. It is
	// false again once Watch has returned.
	Synced() bool
	// Drain calls OnDelete for every key held and forgets them. It logs
	// ErrAlreadyRunning and does nothing while Watch runs.
	Drain()
}

// WSMFunc is a function a WatchStoreManager starts (the reference's name;
// an alias, so any func(context.Context) is one).
type WSMFunc = func(ctx context.Context)

// WatchStoreManager starts functions registered per prefix when the writer
// of that prefix has completed its initial synchronisation.
type WatchStoreManager interface {
	// Register adds fn for prefix. After Run started it logs
	// ErrManagerStarted and does nothing.
	Register(prefix string, fn WSMFunc)
	// Run starts each registered function (at most once) in its own
	// goroutine with ctx, and returns once ctx ended and all of them
	// returned. A second Run logs ErrAlreadyRunning and returns.
	Run(ctx context.Context)
}

// Factory creates stores that share a logger and metrics.
//
// The constructors cannot return an error (Cilium v1.16's signatures): a
// store created with bad input (a cluster name that breaks
// ValidateClusterName where it becomes part of a key, empty prefix, nil
// backend, nil key creator or observer) logs the error at once, returns it
// (ErrInvalidClusterName, ErrEmptyPrefix, ErrNoBackend, ...) from every
// method that returns errors, and its Run or Watch logs it and returns at
// once, before anything is written.
type Factory interface {
	// NewSyncStore returns a writer of the keys under prefix, whose synced
	// marker is cilium/synced/<clusterName>/<prefix> (clusterName must pass
	// ValidateClusterName).
	NewSyncStore(clusterName string, backend SyncStoreBackend, prefix string, opts ...WSSOpt) SyncStore
	// NewWatchStore returns a reader that decodes keys with keyCreator
	// and reports them to observer; Watch names the backend and prefix.
	NewWatchStore(clusterName string, keyCreator KeyCreator, observer Observer, opts ...RWSOpt) WatchStore
	// NewWatchStoreManager returns a manager that watches the markers
	// under cilium/synced/<clusterName>/ on backend (clusterName must pass
	// ValidateClusterName, or Run logs ErrInvalidClusterName and returns).
	NewWatchStoreManager(backend WatchStoreBackend, clusterName string) WatchStoreManager
}

type factory struct {
	log            logrus.FieldLogger
	metrics        *Metrics
	resyncInterval time.Duration
}

// NewFactory returns a Factory. Without options, stores log to logrus'
// standard logger and record no metrics.
func NewFactory(opts ...FactoryOpt) Factory {
	f := &factory{resyncInterval: DefaultResyncInterval}
	for _, o := range opts {
		o(f)
	}
	f.log = logfallback.Or(f.log)
	return f
}

func (f *factory) NewSyncStore(clusterName string, backend SyncStoreBackend, prefix string, opts ...WSSOpt) SyncStore {
	o := syncStoreOpts{workers: DefaultSyncStoreWorkers, resyncInterval: f.resyncInterval, log: f.log}
	for _, opt := range opts {
		opt(&o)
	}
	return newSyncStore(clusterName, backend, prefix, o, f.metrics)
}

func (f *factory) NewWatchStore(clusterName string, keyCreator KeyCreator, observer Observer, opts ...RWSOpt) WatchStore {
	o := watchStoreOpts{log: f.log}
	for _, opt := range opts {
		opt(&o)
	}
	return newWatchStore(clusterName, keyCreator, observer, o, f.metrics)
}

func (f *factory) NewWatchStoreManager(backend WatchStoreBackend, clusterName string) WatchStoreManager {
	return newSyncedManager(f, backend, clusterName)
}
