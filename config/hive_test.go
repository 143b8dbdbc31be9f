package config_test

import (
	"testing"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/hivetest"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/config"
)

// decodeWithHive builds a real hive with the config cell, parses args as a
// command line would and returns the Config hive provides.
func decodeWithHive(t *testing.T, args ...string) config.Config {
	t.Helper()
	var got config.Config
	h := hive.New(
		cell.Config(config.DefaultConfig),
		cell.Invoke(func(c config.Config) { got = c }),
	)
	fs := pflag.NewFlagSet(t.Name(), pflag.ContinueOnError)
	h.RegisterFlags(fs)
	require.NoError(t, fs.Parse(args))
	require.NoError(t, h.Populate(hivetest.Logger(t)))
	return got
}

func TestHiveDecodesFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want config.Config
	}{
		{
			name: "defaults",
			want: config.DefaultConfig,
		},
		{
			name: "all flags",
			args: []string{
				"--kvstore=etcd",
				"--kvstore-opt=etcd.address=http://127.0.0.1:2379,etcd.qps=5",
				"--kvstore-lease-ttl=1m",
				"--kvstore-connectivity-timeout=30s",
				"--kvstore-periodic-sync=10m",
				"--kvstore-max-consecutive-quorum-errors=5",
			},
			want: config.Config{
				KVStore: "etcd",
				KVStoreOpt: map[string]string{
					"etcd.address": "http://127.0.0.1:2379",
					"etcd.qps":     "5",
				},
				KVStoreConnectivityTimeout:        30 * time.Second,
				KVStoreLeaseTTL:                   time.Minute,
				KVStorePeriodicSync:               10 * time.Minute,
				KVStoreMaxConsecutiveQuorumErrors: 5,
			},
		},
		{
			name: "repeated kvstore-opt merges",
			args: []string{"--kvstore=in-memory", "--kvstore-opt", "a=1", "--kvstore-opt", "b=2"},
			want: func() config.Config {
				c := config.DefaultConfig
				c.KVStore = "in-memory"
				c.KVStoreOpt = map[string]string{"a": "1", "b": "2"}
				return c
			}(),
		},
		{
			name: "mixed-case option keys keep their case",
			args: []string{"--kvstore=etcd", "--kvstore-opt=etcd.config=/etc/etcd.yaml,etcd.bootstrapQps=100", "--kvstore-opt=etcd.maxInflight=3"},
			want: func() config.Config {
				c := config.DefaultConfig
				c.KVStore = "etcd"
				c.KVStoreOpt = map[string]string{
					"etcd.config":       "/etc/etcd.yaml",
					"etcd.bootstrapQps": "100",
					"etcd.maxInflight":  "3",
				}
				return c
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeWithHive(t, tt.args...)
			require.Equal(t, tt.want, got)
			// Decoding must not write through into the shared defaults.
			require.Empty(t, config.DefaultConfig.KVStoreOpt)
		})
	}
}
