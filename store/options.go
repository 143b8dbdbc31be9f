package store

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Defaults of the SyncStore.
const (
	// DefaultSyncStoreWorkers is how many writes (batches, or single keys
	// on a backend without transactions) a SyncStore has in flight at
	// once. The reference uses one worker writing one key per round trip;
	// a few batches in flight keep the connection busy while the server
	// applies the previous one.
	DefaultSyncStoreWorkers = 4

	// DefaultResyncInterval is how often a SyncStore compares its keys
	// with the store and re-writes those that were deleted or changed
	// behind its back (--kvstore-periodic-sync's default).
	DefaultResyncInterval = 5 * time.Minute

	// MaxBatchBytes bounds the keys and values of one write transaction,
	// below etcd's default 1.5 MiB request limit with room for the
	// request's framing. A single larger value is written alone.
	MaxBatchBytes = 1 << 20

	// minRetryDelay and maxRetryDelay bound the per-key exponential
	// backoff of failed writes.
	minRetryDelay = 5 * time.Millisecond
	maxRetryDelay = time.Minute
)

// WSSOpt configures a SyncStore.
type WSSOpt func(*syncStoreOpts)

type syncStoreOpts struct {
	workers        int
	withoutLease   bool
	syncedKey      string
	resyncInterval time.Duration
	limiter        RateLimiter
	log            logrus.FieldLogger
}

// WSSWithWorkers sets how many writes the SyncStore keeps in flight
// (default DefaultSyncStoreWorkers). 0 means 1 (the reference would start
// no worker and never write); more than 1024 means 1024.
func WSSWithWorkers(n uint) WSSOpt {
	return func(o *syncStoreOpts) { o.workers = int(min(max(n, 1), maxWorkers)) }
}

// maxWorkers bounds WSSWithWorkers: more writes in flight than this only
// queue in the client.
const maxWorkers = 1024

// RateLimiter decides how long a SyncStore waits before writing a key
// again after a failed write. Its method set is client-go's
// workqueue.RateLimiter, which the reference's WSSWithRateLimiter takes, so
// a client-go limiter (workqueue.DefaultControllerRateLimiter(), ...) can be
// passed as it is. The items are the key names (strings) and, for the synced
// marker, a value of an unexported type. It is called with the store's lock
// held and from several workers: it must be safe for concurrent use, quick,
// and must not call the store.
type RateLimiter interface {
	// When returns the delay before the next write of item, which just
	// failed.
	When(item any) time.Duration
	// Forget says item was written: its failures are over.
	Forget(item any)
	// NumRequeues is the number of failures of item so far (not used by
	// the store; part of the method set).
	NumRequeues(item any) int
}

// WSSWithRateLimiter sets the backoff of failed writes (default: per key,
// exponential from 5 ms, doubling to at most one minute, reset by a
// success).
func WSSWithRateLimiter(limiter RateLimiter) WSSOpt {
	return func(o *syncStoreOpts) { o.limiter = limiter }
}

// WSSWithoutLease writes keys (and the synced marker) without the client's
// lease: they stay when the writer goes away.
func WSSWithoutLease() WSSOpt {
	return func(o *syncStoreOpts) { o.withoutLease = true }
}

// WSSWithSyncedKeyOverride names the synced marker
// cilium/synced/<cluster>/<key> instead of cilium/synced/<cluster>/<prefix>.
func WSSWithSyncedKeyOverride(key string) WSSOpt {
	return func(o *syncStoreOpts) { o.syncedKey = key }
}

// WSSWithResyncInterval sets how often the SyncStore lists its prefix and
// re-writes keys that were deleted or overwritten by someone else (default
// DefaultResyncInterval; 0 or less turns it off). It needs a backend with
// ListPrefix; on others it is off.
func WSSWithResyncInterval(d time.Duration) WSSOpt {
	return func(o *syncStoreOpts) { o.resyncInterval = d }
}

// WSSWithLogger sets the logger (default: the factory's).
func WSSWithLogger(log logrus.FieldLogger) WSSOpt {
	return func(o *syncStoreOpts) { o.log = log }
}

// RWSOpt configures a WatchStore.
type RWSOpt func(*watchStoreOpts)

type watchStoreOpts struct {
	onSync  []func(context.Context)
	entries prometheus.Gauge
	log     logrus.FieldLogger
}

// RWSWithOnSyncCallback adds a function run once, at the first ListDone the
// store ever sees, with Watch's ctx. Callbacks run in the order given.
func RWSWithOnSyncCallback(fn func(ctx context.Context)) RWSOpt {
	return func(o *watchStoreOpts) { o.onSync = append(o.onSync, fn) }
}

// RWSWithEntriesMetric keeps gauge set to the number of keys the
// WatchStore holds (NumEntries), besides the factory's
// kvstore_store_entries (see WithMetrics).
func RWSWithEntriesMetric(gauge prometheus.Gauge) RWSOpt {
	return func(o *watchStoreOpts) { o.entries = gauge }
}

// RWSWithLogger sets the logger (default: the factory's).
func RWSWithLogger(log logrus.FieldLogger) RWSOpt {
	return func(o *watchStoreOpts) { o.log = log }
}

// FactoryOpt configures a Factory.
type FactoryOpt func(*factory)

// WithLogger sets the logger of every store of the factory (default:
// logrus' standard logger). Each store adds a "subsys" field.
func WithLogger(log logrus.FieldLogger) FactoryOpt {
	return func(f *factory) { f.log = log }
}

// WithMetrics records the stores' metrics in m (see NewMetrics).
func WithMetrics(m *Metrics) FactoryOpt {
	return func(f *factory) { f.metrics = m }
}

// WithResyncInterval sets the default resync interval of the factory's
// SyncStores (see WSSWithResyncInterval).
func WithResyncInterval(d time.Duration) FactoryOpt {
	return func(f *factory) { f.resyncInterval = d }
}
