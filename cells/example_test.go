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
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/promise"
)

// A program that imports cells.All and is started with --kvstore=etcd
// --kvstore-opt=etcd.address=... gets a connected client with no other
// wiring. The embedded etcd stands in for a real one.
func Example() {
	ctx := context.Background()
	srv, err := hivetest.NewServer(ctx, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	var kv promise.Promise[kvstore.BackendOperations]
	h := hive.New(
		cells.All,
		cell.Invoke(func(p promise.Promise[kvstore.BackendOperations]) { kv = p }),
	)

	// What the command line of the program would hold.
	flags := pflag.NewFlagSet("example", pflag.ContinueOnError)
	h.RegisterFlags(flags)
	if err := flags.Parse([]string{"--kvstore=etcd", "--kvstore-opt=etcd.address=" + srv.Endpoint()}); err != nil {
		fmt.Println(err)
		return
	}

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
	if err := client.Update(ctx, "example/greeting", []byte("hello"), false); err != nil {
		fmt.Println(err)
		return
	}
	v, err := client.Get(ctx, "example/greeting")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s, %s\n", v, client.Status().State)
	// Output: hello, Ok
}
