package allocator

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults of NewAllocator.
const (
	// DefaultMinID and DefaultMaxID bound the IDs: those of Cilium's
	// cluster-local security identities (256–65535). Note that Cilium's
	// pkg/allocator itself defaults to 1…MaxUint64 when WithMin/WithMax
	// are not given; a port that relied on that default must pass them.
	DefaultMinID ID = 256
	DefaultMaxID ID = 65535
	// DefaultSyncInterval is how often the keys of this node are
	// re-created if missing (--kvstore-periodic-sync's default).
	DefaultSyncInterval = 5 * time.Minute
	// DefaultGCInterval is a usual period for WithGCInterval (that of
	// Cilium's operator). Neither NewAllocator nor allocator.Cell runs GC
	// rounds unless asked.
	DefaultGCInterval = 15 * time.Minute
	// DefaultGCRate is how many master keys a GC round deletes per second.
	DefaultGCRate = 250
	// DefaultReleaseDelay is how long the slave key of a key created here
	// outlives a Release that comes right after (see WithReleaseDelay):
	// well above the time a watch takes to deliver an event on a healthy
	// cluster.
	DefaultReleaseDelay = 2 * time.Second
)

// Option configures NewAllocator.
type Option func(*options)

type options struct {
	min, max, mask ID
	gcInterval     time.Duration // 0: no GC rounds (the default)
	noLocalSync    bool          // WithoutGC: no re-creation of this node's keys
	syncInterval   time.Duration
	releaseDelay   time.Duration
	events         chan<- Event
	log            logrus.FieldLogger
	metrics        *Metrics
	health         *cellHealth // Cell's health parts (nil: none)
}

func defaultOptions() options {
	return options{
		min: DefaultMinID, max: DefaultMaxID,
		syncInterval: DefaultSyncInterval,
		releaseDelay: DefaultReleaseDelay,
	}
}

// WithMin sets the smallest ID (default DefaultMinID); it must not be 0.
func WithMin(id ID) Option { return func(o *options) { o.min = id } }

// WithMax sets the largest ID (default DefaultMaxID).
func WithMax(id ID) Option { return func(o *options) { o.max = id } }

// WithPrefixMask ORs mask into every ID (e.g. a cluster ID in the high
// bits); min and max bound the IDs before masking and must not overlap it.
func WithPrefixMask(mask ID) Option { return func(o *options) { o.mask = mask } }

// WithoutGC means what it means in Cilium's pkg/allocator: it turns off
// the local key sync, i.e. the periodic re-creation of this node's master
// and slave keys and their re-creation after a lease loss (for an
// Allocator that only reads, or a test that deletes keys on purpose). It
// does not concern the GC rounds of unused IDs: NewAllocator runs none
// unless WithGCInterval asks for them.
func WithoutGC() Option { return func(o *options) { o.noLocalSync = true } }

// WithGCInterval makes the Allocator run GC rounds (unused IDs, then stale
// locks) every d; 0, the default, runs none. In a cluster only one process
// should (Cilium: the operator; agents never do); RunGC can be called
// directly all the same. DefaultGCInterval is the usual period.
func WithGCInterval(d time.Duration) Option { return func(o *options) { o.gcInterval = d } }

// WithReleaseDelay sets how long the slave key of a key this Allocator has
// just created survives its last Release (default DefaultReleaseDelay; 0
// deletes it at once). Until every watcher of the master keys can have seen
// a new master key, a process of Cilium's allocator that finds no slave key
// and whose cache does not know the ID yet would create a second master key
// for the key; keeping the slave key for this long closes that window.
// Release returns at once either way; a key allocated again meanwhile keeps
// its slave key.
func WithReleaseDelay(d time.Duration) Option { return func(o *options) { o.releaseDelay = d } }

// WithSyncInterval sets how often the master and slave keys of every key
// this node uses are re-created if missing (default DefaultSyncInterval;
// 0 disables it).
func WithSyncInterval(d time.Duration) Option { return func(o *options) { o.syncInterval = d } }

// WithEvents makes the Allocator send every change of its cache to ch (see
// Event). The Allocator blocks on a full channel: read it.
func WithEvents(ch chan<- Event) Option { return func(o *options) { o.events = ch } }

// WithLogger sets the logger (default: logrus' standard logger, see
// internal/logfallback).
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.log = l } }

// WithMetrics makes the Allocator count into m (see NewMetrics).
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

func (o options) validate() error {
	switch {
	case o.min == NoID:
		return fmt.Errorf("%w: min ID is 0, which means NoID: use WithMin(1) or higher", ErrInvalidConfig)
	case o.min > o.max:
		return fmt.Errorf("%w: min ID %d > max ID %d: the range is empty", ErrInvalidConfig, o.min, o.max)
	case o.mask&ID(1<<bits.Len64(uint64(o.max))-1) != 0:
		return fmt.Errorf("%w: prefix mask %#x overlaps the range [%d, %d]", ErrInvalidConfig, uint64(o.mask), o.min, o.max)
	case o.gcInterval < 0:
		return fmt.Errorf("%w: GC interval %s is negative (0 runs no GC rounds)", ErrInvalidConfig, o.gcInterval)
	case o.releaseDelay < 0:
		return fmt.Errorf("%w: release delay %s is negative", ErrInvalidConfig, o.releaseDelay)
	case o.syncInterval < 0:
		return fmt.Errorf("%w: sync interval %s is negative", ErrInvalidConfig, o.syncInterval)
	}
	return nil
}
