package cells_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/config"
	"github.com/hivekv/kvstore/promise"
)

// A program picks its backend without touching its FlagSet: the defaults
// show in --help, and the command line still wins.
func ExampleAllWithDefaults() {
	var kv promise.Promise[kvstore.BackendOperations]
	h := hive.New(
		cells.AllWithDefaults(config.Config{
			KVStore:    kvstore.InMemoryBackendName,
			KVStoreOpt: map[string]string{kvstore.InMemoryStoreOption: "example-defaults"},
		}),
		cell.Invoke(func(p promise.Promise[kvstore.BackendOperations]) { kv = p }),
	)
	flags := pflag.NewFlagSet("example", pflag.ContinueOnError)
	h.RegisterFlags(flags)
	if err := flags.Parse(nil); err != nil { // no --kvstore on the command line
		fmt.Println(err)
		return
	}
	fmt.Println("--kvstore default:", flags.Lookup(config.FlagKVStore).DefValue)

	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	if err := h.Start(log, ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer h.Stop(log, ctx)
	client, err := kv.Await(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("connected:", client.Status().State)
	// Output:
	// --kvstore default: in-memory
	// connected: Ok
}
