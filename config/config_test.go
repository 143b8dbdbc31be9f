package config_test

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/config"
)

// etcdConfig returns a valid etcd configuration changed by mod.
func etcdConfig(mod func(*config.Config)) config.Config {
	c := config.DefaultConfig
	c.KVStore = kvstore.EtcdBackendName
	c.KVStoreOpt = map[string]string{kvstore.EtcdAddrOption: "http://127.0.0.1:2379"}
	if mod != nil {
		mod(&c)
	}
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.Config
		// wantErr is the sentinel the error must wrap; nil means valid.
		wantErr error
		// wantMsg are substrings the message must contain: the flag at
		// fault and the fix.
		wantMsg []string
	}{
		{name: "defaults (disabled)", cfg: config.DefaultConfig},
		{
			name: "disabled with options is accepted",
			cfg: func() config.Config {
				c := config.DefaultConfig
				c.KVStoreOpt = map[string]string{"whatever": "x"}
				return c
			}(),
		},
		{name: "etcd with address", cfg: etcdConfig(nil)},
		{
			name: "etcd with config file",
			cfg: etcdConfig(func(c *config.Config) {
				c.KVStoreOpt = map[string]string{kvstore.EtcdOptionConfig: "/etc/etcd.yaml"}
			}),
		},
		{
			name: "etcd with every numeric option",
			cfg: etcdConfig(func(c *config.Config) {
				c.KVStoreOpt[kvstore.EtcdRateLimitOption] = "5"
				c.KVStoreOpt[kvstore.EtcdBootstrapRateLimitOption] = "0"
				c.KVStoreOpt[kvstore.EtcdMaxInflightOption] = "10"
				c.KVStoreOpt[kvstore.EtcdListLimitOption] = "0"
				c.KVStoreOpt[kvstore.EtcdOptionKeepAliveHeartbeat] = "5s"
				c.KVStoreOpt[kvstore.EtcdOptionKeepAliveTimeout] = "10s"
			}),
		},
		{
			name: "in-memory without options",
			cfg:  etcdConfig(func(c *config.Config) { c.KVStore = kvstore.InMemoryBackendName; c.KVStoreOpt = nil }),
		},
		{
			name: "lease TTL at min",
			cfg:  etcdConfig(func(c *config.Config) { c.KVStoreLeaseTTL = kvstore.MinLeaseTTL }),
		},
		{
			name: "lease TTL at max",
			cfg:  etcdConfig(func(c *config.Config) { c.KVStoreLeaseTTL = kvstore.MaxLeaseTTL }),
		},
		{
			name:    "unknown backend",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStore = "consul" }),
			wantErr: kvstore.ErrUnknownBackend,
			wantMsg: []string{"--kvstore=consul", `"consul"`, "etcd, in-memory"},
		},
		{
			name:    "unknown option key",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStoreOpt["etcd.adress"] = "x" }),
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{"--kvstore-opt", `"etcd.adress"`, "valid keys: etcd.address"},
		},
		{
			name:    "in-memory rejects etcd keys",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStore = kvstore.InMemoryBackendName }),
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{`"etcd.address"`, "in-memory.store"},
		},
		{
			name:    "non-numeric qps",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStoreOpt[kvstore.EtcdRateLimitOption] = "fast" }),
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{`etcd.qps="fast"`, "not an integer"},
		},
		{
			name:    "zero qps",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStoreOpt[kvstore.EtcdRateLimitOption] = "0" }),
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{"etcd.qps", "must be positive"},
		},
		{
			name:    "negative limit",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStoreOpt[kvstore.EtcdListLimitOption] = "-1" }),
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{"etcd.limit", "must not be negative"},
		},
		{
			name:    "bad keepalive duration",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStoreOpt[kvstore.EtcdOptionKeepAliveTimeout] = "25" }),
			wantErr: kvstore.ErrInvalidOption,
			wantMsg: []string{"etcd.keepaliveTimeout", "not a duration"},
		},
		{
			name:    "etcd without endpoint",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStoreOpt = map[string]string{kvstore.EtcdRateLimitOption: "5"} }),
			wantErr: kvstore.ErrInvalidConfig,
			wantMsg: []string{"--kvstore=etcd needs --kvstore-opt etcd.address=<url> or etcd.config=<file>"},
		},
		{
			name:    "etcd with empty address",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStoreOpt[kvstore.EtcdAddrOption] = "" }),
			wantErr: kvstore.ErrInvalidConfig,
			wantMsg: []string{"etcd.address=<url>"},
		},
		{
			name:    "zero connectivity timeout",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStoreConnectivityTimeout = 0 }),
			wantErr: kvstore.ErrInvalidConfig,
			wantMsg: []string{"--kvstore-connectivity-timeout=0s must be positive", "--kvstore-connectivity-timeout=2m0s"},
		},
		{
			name:    "negative periodic sync",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStorePeriodicSync = -time.Second }),
			wantErr: kvstore.ErrInvalidConfig,
			wantMsg: []string{"--kvstore-periodic-sync=-1s must be positive", "--kvstore-periodic-sync=5m0s"},
		},
		{
			name:    "timings checked when disabled too",
			cfg:     config.Config{KVStoreLeaseTTL: kvstore.DefaultLeaseTTL, KVStorePeriodicSync: time.Minute, KVStoreMaxConsecutiveQuorumErrors: 1},
			wantErr: kvstore.ErrInvalidConfig,
			wantMsg: []string{"--kvstore-connectivity-timeout"},
		},
		{
			name:    "lease TTL below minimum",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStoreLeaseTTL = 10 * time.Second }),
			wantErr: kvstore.ErrInvalidConfig,
			wantMsg: []string{"--kvstore-lease-ttl=10s is below the minimum lease TTL of 25s", "between 25s and 24h0m0s"},
		},
		{
			name:    "lease TTL above maximum",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStoreLeaseTTL = 25 * time.Hour }),
			wantErr: kvstore.ErrInvalidConfig,
			wantMsg: []string{"--kvstore-lease-ttl=25h0m0s is above the maximum lease of 24h0m0s", "between 25s and 24h0m0s"},
		},
		{
			name:    "zero max consecutive quorum errors",
			cfg:     etcdConfig(func(c *config.Config) { c.KVStoreMaxConsecutiveQuorumErrors = 0 }),
			wantErr: kvstore.ErrInvalidConfig,
			wantMsg: []string{"--kvstore-max-consecutive-quorum-errors=0", "use 1 or more"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			for _, m := range tt.wantMsg {
				require.ErrorContains(t, err, m)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		config.DefaultConfig.Flags(fs)

		want := map[string]string{
			config.FlagKVStore:                           "",
			config.FlagKVStoreOpt:                        "[]",
			config.FlagKVStoreConnectivityTimeout:        "2m0s",
			config.FlagKVStoreLeaseTTL:                   "15m0s",
			config.FlagKVStorePeriodicSync:               "5m0s",
			config.FlagKVStoreMaxConsecutiveQuorumErrors: "2",
		}
		var seen []string
		fs.VisitAll(func(f *pflag.Flag) {
			seen = append(seen, f.Name)
			require.Contains(t, want, f.Name, "unexpected flag")
			require.Equal(t, want[f.Name], f.DefValue, f.Name)
			require.NotEmpty(t, f.Usage, f.Name)
		})
		require.Len(t, seen, len(want))
	})

	t.Run("custom defaults", func(t *testing.T) {
		def := config.DefaultConfig
		def.KVStore = kvstore.InMemoryBackendName
		def.KVStoreOpt = map[string]string{kvstore.InMemoryStoreOption: "shared"}
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		def.Flags(fs)
		require.NoError(t, fs.Parse([]string{"--kvstore-opt=x=y"}))

		backend, err := fs.GetString(config.FlagKVStore)
		require.NoError(t, err)
		require.Equal(t, kvstore.InMemoryBackendName, backend)

		// pflag replaces the default map on the first --kvstore-opt and
		// must never write into the caller's map.
		opts, err := fs.GetStringToString(config.FlagKVStoreOpt)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"x": "y"}, opts)
		require.Equal(t, map[string]string{kvstore.InMemoryStoreOption: "shared"}, def.KVStoreOpt)
	})
}

func TestExtraOptions(t *testing.T) {
	cfg := config.DefaultConfig
	cfg.KVStoreLeaseTTL = time.Minute
	cfg.KVStoreMaxConsecutiveQuorumErrors = 7
	cfg.KVStoreConnectivityTimeout = 3 * time.Second

	check := func(t *testing.T, got *kvstore.ExtraOptions) {
		t.Helper()
		require.Equal(t, time.Minute, got.LeaseTTL)
		require.Equal(t, uint(7), got.MaxConsecutiveQuorumErrors)
		require.Equal(t, 3*time.Second, got.ConnectivityTimeout)
	}

	t.Run("nil base", func(t *testing.T) {
		got := cfg.ExtraOptions(nil)
		require.NotNil(t, got)
		check(t, got)
		require.Equal(t, time.Minute, got.EffectiveLeaseTTL())
	})

	t.Run("base kept, flag fields overridden, base untouched", func(t *testing.T) {
		base := &kvstore.ExtraOptions{
			ClusterName:                "c1",
			NoLockQuorumCheck:          true,
			LockLeaseTTL:               5 * time.Second,
			LeaseTTL:                   time.Hour,
			MaxConsecutiveQuorumErrors: 1,
			ConnectivityTimeout:        time.Hour,
		}
		orig := *base
		got := cfg.ExtraOptions(base)
		require.NotSame(t, base, got)
		check(t, got)
		require.Equal(t, "c1", got.ClusterName)
		require.True(t, got.NoLockQuorumCheck)
		require.Equal(t, 5*time.Second, got.LockLeaseTTL)
		require.Equal(t, orig, *base)
	})
}
