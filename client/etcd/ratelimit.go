package etcd

import (
	"time"

	"github.com/hivekv/kvstore"
)

// RateLimitStats is a snapshot of a client's rate limiter (etcd.qps,
// etcd.bootstrapQps, etcd.maxInflight). The counters only grow over the
// client's life; compare two snapshots to measure a period.
type RateLimitStats struct {
	// QPS is the rate in force: etcd.bootstrapQps until BootstrapComplete
	// is closed, etcd.qps afterwards.
	QPS float64
	// Burst is how many requests pass at once after a quiet period.
	Burst int
	// MaxInflight bounds concurrent requests; Inflight is how many run now.
	MaxInflight int
	Inflight    int
	// Requests counts the requests the limiter admitted: every operation,
	// every page of a ListAndWatch list and every watch creation.
	Requests int64
	// Waits counts the requests the token bucket held back, Waited adds up
	// their delays and MaxWait is the longest one.
	Waits   int64
	Waited  time.Duration
	MaxWait time.Duration
}

// LimiterStats returns the rate limiter snapshot of an etcd client. It
// reports false for other backends, which do not limit.
func LimiterStats(b kvstore.BackendOperations) (RateLimitStats, bool) {
	c, ok := b.(*etcdClient)
	if !ok || c == nil {
		return RateLimitStats{}, false
	}
	l := c.limiter
	st := l.Stats()
	return RateLimitStats{
		QPS:         l.QPS(),
		Burst:       l.Burst(),
		MaxInflight: l.MaxInflight(),
		Inflight:    l.Inflight(),
		Requests:    st.Acquires,
		Waits:       st.Waits,
		Waited:      st.Waited,
		MaxWait:     st.MaxWait,
	}, true
}
