package lockgc

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
)

// Flag names. Each matches its Config field once the dashes are removed,
// which is how hive maps flags onto the struct.
const (
	FlagLockGCInterval    = "kvstore-lock-gc-interval"
	FlagStaleLockTimeout  = "kvstore-stale-lock-timeout"
	FlagLockSweepPrefixes = "kvstore-lock-sweep-prefixes"
	FlagLockSweepInterval = "kvstore-lock-sweep-interval"
)

// Defaults of the flags.
const (
	DefaultLockGCInterval = 30 * time.Second
	// DefaultLockSweepInterval is twice the lock lease TTL: a key whose
	// owner died is gone with its lease before a sweep could judge it.
	DefaultLockSweepInterval = 2 * kvstore.DefaultLockLeaseTTL
)

// Config configures the lock GC and the lock sweep. Every exported field has
// exactly one flag.
type Config struct {
	// KVStoreLockGCInterval is how often local locks are checked.
	KVStoreLockGCInterval time.Duration
	// KVStoreStaleLockTimeout is how long a local lock may be held before
	// the GC releases it.
	KVStoreStaleLockTimeout time.Duration
	// KVStoreLockSweepPrefixes are the key prefixes whose lock keys are
	// swept; empty disables the sweep.
	KVStoreLockSweepPrefixes []string
	// KVStoreLockSweepInterval is the time between sweeps, and the least
	// time a lock key must stay unchanged before it is deleted.
	KVStoreLockSweepInterval time.Duration
}

// DefaultConfig is the configuration without flags.
var DefaultConfig = Config{
	KVStoreLockGCInterval:    DefaultLockGCInterval,
	KVStoreStaleLockTimeout:  kvstore.DefaultStaleLockTimeout,
	KVStoreLockSweepInterval: DefaultLockSweepInterval,
}

// Flags registers the flags of the cell.
func (def Config) Flags(flags *pflag.FlagSet) {
	flags.Duration(FlagLockGCInterval, def.KVStoreLockGCInterval,
		"How often process-local kvstore locks are checked for staleness")
	flags.Duration(FlagStaleLockTimeout, def.KVStoreStaleLockTimeout,
		"How long a process-local kvstore lock may be held before it is forcefully released")
	flags.StringSlice(FlagLockSweepPrefixes, def.KVStoreLockSweepPrefixes,
		"Key prefixes under which stale distributed lock keys are deleted (comma-separated; empty: no sweep)")
	flags.Duration(FlagLockSweepInterval, def.KVStoreLockSweepInterval,
		"Time between lock sweeps; a lock key unchanged across two sweeps this far apart is deleted "+
			"(keep it at least twice the lock lease TTL of 25s)")
}

// Validate reports the first setting that cannot work, naming its flag.
func (c Config) Validate() error {
	switch {
	case c.KVStoreLockGCInterval <= 0:
		return fmt.Errorf("%w: --%s must be positive, got %s", kvstore.ErrInvalidConfig, FlagLockGCInterval, c.KVStoreLockGCInterval)
	case c.KVStoreStaleLockTimeout <= 0:
		return fmt.Errorf("%w: --%s must be positive, got %s", kvstore.ErrInvalidConfig, FlagStaleLockTimeout, c.KVStoreStaleLockTimeout)
	case len(c.sweepPrefixes()) > 0 && c.KVStoreLockSweepInterval <= 0:
		return fmt.Errorf("%w: --%s must be positive, got %s", kvstore.ErrInvalidConfig, FlagLockSweepInterval, c.KVStoreLockSweepInterval)
	}
	return nil
}

// sweepPrefixes returns the non-blank prefixes.
func (c Config) sweepPrefixes() []string {
	var out []string
	for _, p := range c.KVStoreLockSweepPrefixes {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
