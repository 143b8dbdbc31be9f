// Command quickstart is the README's quick start: a complete hive program
// with the kvstore client, the ID allocator and the shared store.
//
//	go run ./examples/quickstart --embedded
//	go run ./examples/quickstart --kvstore=etcd --kvstore-opt=etcd.address=http://127.0.0.1:2379
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/config"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/promise"
	"github.com/hivekv/kvstore/store"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	h := hive.New(
		cells.All,      // client, user-management client, heartbeat writer, lock GC
		allocator.Cell, // promise.Promise[*allocator.Allocator], flags --allocator-*
		store.Cell,     // store.Factory
		cell.Invoke(func(p params) { p.Lifecycle.Append(&greeter{p: p, out: out}) }),
	)
	flags := pflag.NewFlagSet("quickstart", pflag.ContinueOnError)
	h.RegisterFlags(flags) // --kvstore, --kvstore-opt, ... of every cell
	embedded := flags.Bool("embedded", false, "run an in-process etcd and use it")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	if *embedded {
		srv, err := hivetest.NewServer(context.Background(), "") // data in a temp dir
		if err != nil {
			return err
		}
		defer srv.Close()
		// An override wins over the flags, without touching the FlagSet.
		hive.AddConfigOverride(h, func(c *config.Config) {
			c.KVStore = kvstore.EtcdBackendName
			c.KVStoreOpt = map[string]string{kvstore.EtcdAddrOption: srv.Endpoint()}
		})
	}
	// Run starts the hive and waits for a signal or a Shutdown. It needs a
	// logger: h.Run(nil) panics inside hive.
	return h.Run(slog.Default())
}

type params struct {
	cell.In

	Lifecycle  cell.Lifecycle
	Shutdowner hive.Shutdowner
	Client     promise.Promise[kvstore.BackendOperations]
	IDs        promise.Promise[*allocator.Allocator]
	Stores     store.Factory
}

// greeter awaits the client in a goroutine of its own. Its start hook must
// not await it: start hooks run one after the other, so an Await there would
// hold up the whole hive's start for as long as the client takes to
// connect, up to --kvstore-connectivity-timeout (2m) when etcd is down.
type greeter struct {
	p      params
	out    io.Writer
	cancel context.CancelFunc
	done   chan struct{}
}

func (g *greeter) Start(cell.HookContext) error {
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel, g.done = cancel, make(chan struct{})
	go func() {
		defer close(g.done)
		err := g.greet(ctx)
		// A quick start ends by itself; a real program would keep going.
		g.p.Shutdowner.Shutdown(hive.ShutdownWithError(err))
	}()
	return nil
}

func (g *greeter) Stop(ctx cell.HookContext) error {
	g.cancel()
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *greeter) greet(ctx context.Context) error {
	kv, err := g.p.Client.Await(ctx) // resolved once connected
	if err != nil {
		return err
	}
	fmt.Fprintln(g.out, "connected:", kv.Status())

	ids, err := g.p.IDs.Await(ctx) // resolved after the allocator's initial sync
	if err != nil {
		return err
	}
	id, isNew, _, err := ids.Allocate(ctx, "app=quickstart;")
	if err != nil {
		return err
	}
	fmt.Fprintf(g.out, "ID %d for app=quickstart; (new=%v)\n", id, isNew)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := g.p.Stores.NewSyncStore("quickstart", kv, "quickstart/greetings")
	stopped := make(chan struct{})
	go func() { defer close(stopped); w.Run(ctx) }()
	defer func() { cancel(); <-stopped }()
	synced := make(chan struct{})
	if err := w.UpsertKey(ctx, store.NewKVPair("hello", fmt.Sprintf("from ID %d", id))); err != nil {
		return err
	}
	if err := w.Synced(ctx, func(context.Context) { close(synced) }); err != nil {
		return err
	}
	select {
	case <-synced:
	case <-ctx.Done():
		return ctx.Err()
	}
	v, err := kv.Get(ctx, "quickstart/greetings/hello")
	fmt.Fprintf(g.out, "quickstart/greetings/hello = %q\n", v)
	return err
}
