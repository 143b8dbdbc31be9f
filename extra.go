package kvstore

import (
	"math"
	"time"

	"github.com/hivekv/kvstore/internal/logfallback"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
)

// Timing defaults of Cilium v1.16's pkg/kvstore.
const (
	// DefaultLeaseTTL is the TTL of the data lease (--kvstore-lease-ttl).
	DefaultLeaseTTL = 15 * time.Minute
	// DefaultLockLeaseTTL is the TTL of the lease behind locks and the
	// connection session.
	DefaultLockLeaseTTL = 25 * time.Second
	// MinLeaseTTL is the shortest data lease TTL accepted: as in the
	// reference, a data lease may not be shorter than the lock lease.
	MinLeaseTTL = DefaultLockLeaseTTL
	// MaxLeaseTTL is the longest data lease TTL accepted.
	MaxLeaseTTL = 24 * time.Hour
	// DefaultMaxKeysPerLease is how many keys share one data lease before
	// a new lease is granted, bounding what one lease expiry takes away.
	DefaultMaxKeysPerLease = 1000
	// DefaultLockTimeout bounds LockPath.
	DefaultLockTimeout = time.Minute
	// DefaultStaleLockTimeout is the age after which a process-local path
	// lock is considered stale and collected.
	DefaultStaleLockTimeout = 30 * time.Second
	// DefaultStatusCheckTimeout bounds each status probe.
	DefaultStatusCheckTimeout = 10 * time.Second
	// DefaultConnectivityTimeout bounds the initial connection
	// (--kvstore-connectivity-timeout).
	DefaultConnectivityTimeout = 2 * time.Minute
	// DefaultMaxConsecutiveQuorumErrors is how many quorum checks in a row
	// may fail before the status fails
	// (--kvstore-max-consecutive-quorum-errors).
	DefaultMaxConsecutiveQuorumErrors = 2
)

// ClusterSizeDependantIntervalFunc stretches a base interval with the size of
// the cluster, so that thousands of clients do not probe the store in step.
type ClusterSizeDependantIntervalFunc func(baseInterval time.Duration) time.Duration

// ClusterSizeDependantInterval scales baseInterval by ln(1+numNodes): 1 node
// gives 0.69× the base, 8192 nodes 9×. Zero nodes give the base.
func ClusterSizeDependantInterval(baseInterval time.Duration, numNodes int) time.Duration {
	if numNodes <= 0 {
		return baseInterval
	}
	return time.Duration(float64(baseInterval) * math.Log1p(float64(numNodes)))
}

// ExtraOptions are the client options that cannot be given as text. The
// zero value (and a nil pointer) means the defaults.
type ExtraOptions struct {
	// DialOption is appended to the gRPC dial options of the etcd client.
	DialOption []grpc.DialOption

	// ClusterSizeDependantInterval stretches status-check and retry
	// intervals with the cluster size.
	ClusterSizeDependantInterval ClusterSizeDependantIntervalFunc

	// NoLockQuorumCheck skips the lock round trip that proves quorum in
	// Connected and in status checks.
	NoLockQuorumCheck bool

	// ClusterName names the store in logs and metrics.
	ClusterName string

	// BootstrapComplete, when set, keeps etcd.bootstrapQps in force until
	// it is closed; etcd.qps applies afterwards.
	BootstrapComplete <-chan struct{}

	// NoEndpointStatusChecks skips the per-endpoint status probes.
	NoEndpointStatusChecks bool

	// LeaseTTL is the TTL of the data lease (lease=true writes);
	// 0 = DefaultLeaseTTL.
	LeaseTTL time.Duration

	// LockLeaseTTL is the TTL of the lease behind locks and the connection
	// session; 0 = DefaultLockLeaseTTL. Tests shorten it.
	LockLeaseTTL time.Duration

	// MaxConsecutiveQuorumErrors is how many quorum checks in a row may
	// fail before the status fails; 0 = DefaultMaxConsecutiveQuorumErrors.
	MaxConsecutiveQuorumErrors uint

	// ConnectivityTimeout bounds the initial connection; when it passes,
	// NewClient's error channel receives the error. 0 =
	// DefaultConnectivityTimeout.
	ConnectivityTimeout time.Duration

	// StatusCheckTimeout bounds each status probe; 0 =
	// DefaultStatusCheckTimeout.
	StatusCheckTimeout time.Duration

	// HeartbeatInterval is the expected heartbeat write interval; a
	// heartbeat older than twice this fails the status. 0 =
	// HeartbeatWriteInterval.
	HeartbeatInterval time.Duration

	// Logger receives the client's logs; nil = logrus' standard logger.
	Logger logrus.FieldLogger

	// Metrics, when set, is where the client registers its metrics. No
	// global registry is ever used.
	Metrics prometheus.Registerer

	// RelistSpread spreads the relists of watches whose history was
	// compacted: each waits a random delay in [0, RelistSpread) first, so
	// that a fleet of N clients compacted past together sends about
	// N/RelistSpread lists per second instead of N at once. 0 =
	// DefaultRelistSpread.
	RelistSpread time.Duration
}

// DefaultRelistSpread is the default of ExtraOptions.RelistSpread.
const DefaultRelistSpread = time.Second

// EffectiveRelistSpread returns RelistSpread with its default applied; a nil receiver gives the default.
func (e *ExtraOptions) EffectiveRelistSpread() time.Duration {
	return orDefault(e, func(e *ExtraOptions) time.Duration { return e.RelistSpread }, DefaultRelistSpread)
}

// StatusCheckInterval returns how long to wait between status checks: a base
// of 30s while every endpoint is reachable and 5s otherwise, stretched by
// ClusterSizeDependantInterval when set. A nil receiver gives the bases.
//
// With ClusterSizeDependantInterval scaling by ln(1+nodes), this gives about
// 20s/3s for 1 node, 1m05s/11s for 8, 2m25s/24s for 128, 4m30s/45s for 8192.
func (e *ExtraOptions) StatusCheckInterval(allConnected bool) time.Duration {
	interval := 5 * time.Second
	if allConnected {
		interval = 30 * time.Second
	}
	if e != nil && e.ClusterSizeDependantInterval != nil {
		interval = e.ClusterSizeDependantInterval(interval)
	}
	return interval
}

func (e *ExtraOptions) logger() logrus.FieldLogger {
	if e == nil {
		return logfallback.Or(nil)
	}
	return logfallback.Or(e.Logger)
}

// Log returns the logger the client should use, with a subsys field.
func (e *ExtraOptions) Log(subsys string) logrus.FieldLogger {
	return e.logger().WithField("subsys", subsys)
}

// EffectiveLeaseTTL returns LeaseTTL with its default applied; a nil receiver gives the default.
func (e *ExtraOptions) EffectiveLeaseTTL() time.Duration {
	return orDefault(e, func(e *ExtraOptions) time.Duration { return e.LeaseTTL }, DefaultLeaseTTL)
}

// EffectiveLockLeaseTTL returns LockLeaseTTL with its default applied; a nil receiver gives the default.
func (e *ExtraOptions) EffectiveLockLeaseTTL() time.Duration {
	return orDefault(e, func(e *ExtraOptions) time.Duration { return e.LockLeaseTTL }, DefaultLockLeaseTTL)
}

// EffectiveConnectivityTimeout returns ConnectivityTimeout with its default applied; a nil receiver gives the default.
func (e *ExtraOptions) EffectiveConnectivityTimeout() time.Duration {
	return orDefault(e, func(e *ExtraOptions) time.Duration { return e.ConnectivityTimeout }, DefaultConnectivityTimeout)
}

// EffectiveStatusCheckTimeout returns StatusCheckTimeout with its default applied; a nil receiver gives the default.
func (e *ExtraOptions) EffectiveStatusCheckTimeout() time.Duration {
	return orDefault(e, func(e *ExtraOptions) time.Duration { return e.StatusCheckTimeout }, DefaultStatusCheckTimeout)
}

// EffectiveHeartbeatInterval returns HeartbeatInterval with its default applied; a nil receiver gives the default.
func (e *ExtraOptions) EffectiveHeartbeatInterval() time.Duration {
	return orDefault(e, func(e *ExtraOptions) time.Duration { return e.HeartbeatInterval }, HeartbeatWriteInterval)
}

// EffectiveMaxConsecutiveQuorumErrors returns MaxConsecutiveQuorumErrors with its default applied; a nil receiver gives the default.
func (e *ExtraOptions) EffectiveMaxConsecutiveQuorumErrors() uint {
	if e == nil || e.MaxConsecutiveQuorumErrors == 0 {
		return DefaultMaxConsecutiveQuorumErrors
	}
	return e.MaxConsecutiveQuorumErrors
}

func orDefault(e *ExtraOptions, get func(*ExtraOptions) time.Duration, def time.Duration) time.Duration {
	if e == nil {
		return def
	}
	if d := get(e); d > 0 {
		return d
	}
	return def
}
