package config

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
)

// Flag names. Each matches its Config field once the dashes are removed,
// which is how hive maps flags onto the struct.
const (
	FlagKVStore                           = "kvstore"
	FlagKVStoreOpt                        = "kvstore-opt"
	FlagKVStoreConnectivityTimeout        = "kvstore-connectivity-timeout"
	FlagKVStoreLeaseTTL                   = "kvstore-lease-ttl"
	FlagKVStorePeriodicSync               = "kvstore-periodic-sync"
	FlagKVStoreMaxConsecutiveQuorumErrors = "kvstore-max-consecutive-quorum-errors"
)

// DefaultPeriodicSync is the default of --kvstore-periodic-sync.
const DefaultPeriodicSync = 5 * time.Minute

// Config is the kvstore client configuration.
//
// Every exported field has exactly one flag (see Flags) and the other way
// round: hive refuses to build a config struct with a field it cannot fill or
// a flag it cannot place. Add both together or neither.
//
// A Config from hive or from Flags is not checked yet: call Validate before
// using it.
type Config struct {
	// KVStore is the backend name (--kvstore); "" disables the kvstore.
	KVStore string

	// KVStoreOpt holds the backend options (--kvstore-opt key=value,
	// repeatable and comma-separated); see kvstore.OptionSpecs.
	KVStoreOpt map[string]string

	// KVStoreConnectivityTimeout bounds the initial connection
	// (--kvstore-connectivity-timeout).
	KVStoreConnectivityTimeout time.Duration

	// KVStoreLeaseTTL is the TTL of the lease behind lease=true writes
	// (--kvstore-lease-ttl), within [kvstore.MinLeaseTTL, kvstore.MaxLeaseTTL].
	KVStoreLeaseTTL time.Duration

	// KVStorePeriodicSync is how often shared stores resynchronise their
	// local keys with the kvstore (--kvstore-periodic-sync).
	KVStorePeriodicSync time.Duration

	// KVStoreMaxConsecutiveQuorumErrors is how many quorum checks in a row
	// may fail before the client reports a failing status
	// (--kvstore-max-consecutive-quorum-errors).
	KVStoreMaxConsecutiveQuorumErrors uint
}

// DefaultConfig is the configuration with every flag at its default: the
// kvstore disabled and Cilium v1.16's timings.
var DefaultConfig = Config{
	KVStore:                           "",
	KVStoreOpt:                        map[string]string{},
	KVStoreConnectivityTimeout:        kvstore.DefaultConnectivityTimeout,
	KVStoreLeaseTTL:                   kvstore.DefaultLeaseTTL,
	KVStorePeriodicSync:               DefaultPeriodicSync,
	KVStoreMaxConsecutiveQuorumErrors: kvstore.DefaultMaxConsecutiveQuorumErrors,
}

// Flags registers the kvstore flags in fs with the values of def as defaults.
// It has a value receiver so that a Config value satisfies hive's
// cell.Flagger and can be passed to cell.Config.
func (def Config) Flags(fs *pflag.FlagSet) {
	fs.String(FlagKVStore, def.KVStore,
		fmt.Sprintf("Key-value store backend: one of %v; empty disables the kvstore", kvstore.Backends))
	// Copy the default map: pflag writes parsed values into the map it is
	// given, and def.KVStoreOpt may be shared (DefaultConfig's is).
	fs.StringToString(FlagKVStoreOpt, maps.Clone(def.KVStoreOpt),
		"Key-value store options as key=value, repeatable or comma-separated, e.g. "+
			kvstore.EtcdAddrOption+"=http://127.0.0.1:2379,"+kvstore.EtcdRateLimitOption+"=20")
	fs.Duration(FlagKVStoreConnectivityTimeout, def.KVStoreConnectivityTimeout,
		"Time to wait for the initial connection to the kvstore")
	fs.Duration(FlagKVStoreLeaseTTL, def.KVStoreLeaseTTL,
		fmt.Sprintf("TTL of the lease of keys written with a lease (between %s and %s)",
			kvstore.MinLeaseTTL, kvstore.MaxLeaseTTL))
	fs.Duration(FlagKVStorePeriodicSync, def.KVStorePeriodicSync,
		"Interval at which shared stores resynchronise their keys with the kvstore")
	fs.Uint(FlagKVStoreMaxConsecutiveQuorumErrors, def.KVStoreMaxConsecutiveQuorumErrors,
		"Number of consecutive failed quorum checks after which the kvstore status fails")
}

// Enabled reports whether a backend is configured.
func (c Config) Enabled() bool { return c.KVStore != "" }

// Validate checks that c can work and returns the first problem found. The
// error names the flag at fault and how to fix it, and wraps
// kvstore.ErrUnknownBackend, kvstore.ErrInvalidOption or
// kvstore.ErrInvalidConfig.
//
// An empty KVStore (kvstore disabled) is valid, with or without options:
// the options are then unused but harmless. The timing flags are checked
// either way, so that a typo is caught before the kvstore is switched on.
func (c Config) Validate() error {
	if c.Enabled() {
		if err := kvstore.ValidateBackendOptions(c.KVStore, c.KVStoreOpt); err != nil {
			if errors.Is(err, kvstore.ErrUnknownBackend) {
				return fmt.Errorf("--%s=%s: %w", FlagKVStore, c.KVStore, err)
			}
			return fmt.Errorf("--%s (with --%s=%s): %w", FlagKVStoreOpt, FlagKVStore, c.KVStore, err)
		}
		if c.KVStore == kvstore.EtcdBackendName &&
			c.KVStoreOpt[kvstore.EtcdAddrOption] == "" && c.KVStoreOpt[kvstore.EtcdOptionConfig] == "" {
			return fmt.Errorf("%w: --%s=%s needs --%s %s=<url> or %s=<file>",
				kvstore.ErrInvalidConfig, FlagKVStore, kvstore.EtcdBackendName,
				FlagKVStoreOpt, kvstore.EtcdAddrOption, kvstore.EtcdOptionConfig)
		}
	}
	if c.KVStoreConnectivityTimeout <= 0 {
		return positiveErr(FlagKVStoreConnectivityTimeout, c.KVStoreConnectivityTimeout, kvstore.DefaultConnectivityTimeout)
	}
	if c.KVStorePeriodicSync <= 0 {
		return positiveErr(FlagKVStorePeriodicSync, c.KVStorePeriodicSync, DefaultPeriodicSync)
	}
	if c.KVStoreLeaseTTL < kvstore.MinLeaseTTL {
		return fmt.Errorf("%w: --%s=%s is below the minimum lease TTL of %s (the lock lease TTL); use a value between %s and %s (default %s)",
			kvstore.ErrInvalidConfig, FlagKVStoreLeaseTTL, c.KVStoreLeaseTTL, kvstore.MinLeaseTTL,
			kvstore.MinLeaseTTL, kvstore.MaxLeaseTTL, kvstore.DefaultLeaseTTL)
	}
	if c.KVStoreLeaseTTL > kvstore.MaxLeaseTTL {
		return fmt.Errorf("%w: --%s=%s is above the maximum lease of %s; use a value between %s and %s (default %s)",
			kvstore.ErrInvalidConfig, FlagKVStoreLeaseTTL, c.KVStoreLeaseTTL, kvstore.MaxLeaseTTL,
			kvstore.MinLeaseTTL, kvstore.MaxLeaseTTL, kvstore.DefaultLeaseTTL)
	}
	if c.KVStoreMaxConsecutiveQuorumErrors < 1 {
		return fmt.Errorf("%w: --%s=0 would fail the status on the first hiccup; use 1 or more (default %d)",
			kvstore.ErrInvalidConfig, FlagKVStoreMaxConsecutiveQuorumErrors, kvstore.DefaultMaxConsecutiveQuorumErrors)
	}
	return nil
}

func positiveErr(flag string, got, def time.Duration) error {
	return fmt.Errorf("%w: --%s=%s must be positive, e.g. --%s=%s",
		kvstore.ErrInvalidConfig, flag, got, flag, def)
}

// ExtraOptions returns a shallow copy of base (a zero ExtraOptions if base is nil)
// with the options that come from flags set from c: LeaseTTL,
// MaxConsecutiveQuorumErrors and ConnectivityTimeout. c wins over values
// already in base, because the command line is the operator's last word.
// base itself is not modified.
func (c Config) ExtraOptions(base *kvstore.ExtraOptions) *kvstore.ExtraOptions {
	var out kvstore.ExtraOptions
	if base != nil {
		out = *base
	}
	out.LeaseTTL = c.KVStoreLeaseTTL
	out.MaxConsecutiveQuorumErrors = c.KVStoreMaxConsecutiveQuorumErrors
	out.ConnectivityTimeout = c.KVStoreConnectivityTimeout
	return &out
}
