package config_test

import (
	"fmt"
	"log/slog"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore/config"
)

// Registering the flags on a flag set of one's own, for a program that does
// not use hive. With hive, see Example_hive.
func ExampleConfig_Flags() {
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	config.DefaultConfig.Flags(fs)

	err := fs.Parse([]string{
		"--kvstore=etcd",
		"--kvstore-opt=etcd.address=http://127.0.0.1:2379",
		"--kvstore-lease-ttl=1m",
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	cfg := config.DefaultConfig
	cfg.KVStore, _ = fs.GetString(config.FlagKVStore)
	cfg.KVStoreOpt, _ = fs.GetStringToString(config.FlagKVStoreOpt)
	cfg.KVStoreLeaseTTL, _ = fs.GetDuration(config.FlagKVStoreLeaseTTL)

	fmt.Println(cfg.KVStore, cfg.KVStoreOpt, cfg.KVStoreLeaseTTL, cfg.Validate())

	cfg.KVStoreLeaseTTL = 0
	fmt.Println(cfg.Validate())
	// Output:
	// etcd map[etcd.address:http://127.0.0.1:2379] 1m0s <nil>
	// invalid kvstore configuration: --kvstore-lease-ttl=0s is below the minimum lease TTL of 25s (the lock lease TTL); use a value between 25s and 24h0m0s (default 15m0s)
}

// With hive, the config cell registers the flags and provides the decoded
// Config to the graph.
func Example_hive() {
	h := hive.New(
		cell.Config(config.DefaultConfig),
		cell.Invoke(func(cfg config.Config) error {
			fmt.Println(cfg.KVStore, cfg.KVStoreOpt, cfg.KVStoreLeaseTTL)
			return cfg.Validate()
		}),
	)

	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	if err := fs.Parse([]string{"--kvstore=in-memory", "--kvstore-opt", "in-memory.store=demo"}); err != nil {
		fmt.Println(err)
		return
	}

	if err := h.Populate(slog.New(slog.DiscardHandler)); err != nil {
		fmt.Println(err)
	}
	// Output:
	// in-memory map[in-memory.store:demo] 15m0s
}
