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
	// cluster-local identities.
	DefaultMinID ID = 256
	DefaultMaxID ID = 65535
	// DefaultSyncInterval is how often the keys of this node are
	// re-created if missing (--kvstore-periodic-sync's default).
	DefaultSyncInterval = 5 * time.Minute
	// DefaultGCInterval is the period of the GC rounds, when enabled.
	DefaultGCInterval = 15 * time.Minute
	// DefaultGCRate is how many master keys a GC round deletes per second.
	DefaultGCRate = 250
)

// Option configures NewAllocator.
type Option func(*options)

type options struct {
	min, max, mask ID
	gc             bool
	gcInterval     time.Duration
	syncInterval   time.Duration
	events         chan<- Event
	log            logrus.FieldLogger
	metrics        *Metrics
	health         *cellHealth // Cell's health parts (nil: none)
}

func defaultOptions() options {
	return options{
		min: DefaultMinID, max: DefaultMaxID,
		gc: true, gcInterval: DefaultGCInterval,
		syncInterval: DefaultSyncInterval,
		log:          logrus.StandardLogger(),
	}
}

// WithMin sets the smallest ID (default DefaultMinID); it must not be 0.
func WithMin(id ID) Option { return func(o *options) { o.min = id } }

// WithMax sets the largest ID (default DefaultMaxID).
func WithMax(id ID) Option { return func(o *options) { o.max = id } }

// WithPrefixMask ORs mask into every ID (e.g. a cluster ID in the high
// bits); min and max bound the IDs before masking and must not overlap it.
func WithPrefixMask(mask ID) Option { return func(o *options) { o.mask = mask } }

// WithoutGC disables the GC rounds of this Allocator (agents: the operator
// runs them). RunGC can still be called.
func WithoutGC() Option { return func(o *options) { o.gc = false } }

// WithGCInterval sets the period of the GC rounds (default
// DefaultGCInterval); 0 is WithoutGC.
func WithGCInterval(d time.Duration) Option {
	return func(o *options) {
		o.gcInterval = d
		o.gc = d > 0
	}
}

// WithSyncInterval sets how often the master and slave keys of every key
// this node uses are re-created if missing (default DefaultSyncInterval;
// 0 disables it).
func WithSyncInterval(d time.Duration) Option { return func(o *options) { o.syncInterval = d } }

// WithEvents makes the Allocator send every change of its cache to ch (see
// Event). The Allocator blocks on a full channel: read it.
func WithEvents(ch chan<- Event) Option { return func(o *options) { o.events = ch } }

// WithLogger sets the logger (default: logrus' standard logger).
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
	case o.gc && o.gcInterval <= 0:
		return fmt.Errorf("%w: GC interval %s must be positive", ErrInvalidConfig, o.gcInterval)
	case o.syncInterval < 0:
		return fmt.Errorf("%w: sync interval %s is negative", ErrInvalidConfig, o.syncInterval)
	}
	return nil
}
