package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/cilium/hive/job"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/cells"
	"github.com/hivekv/kvstore/config"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/users"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// run is main without the process: it parses args, runs the demo and
// returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	logger := logrus.New()
	logger.SetOutput(stderr)

	var opts demoOptions
	h := hive.NewWithOptions(cells.LogrusOptions(),
		cells.LogrusCell(logger),
		job.Cell, cell.SimpleHealthCell, // the cells run as jobs and report their health
		cells.All,
		users.Cell,
		cell.Module("demo", "hivekv demo",
			cell.Invoke(func(p demoParams) { registerDemo(p, &opts, stdout) }),
		),
	)
	fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: demo [flags]\n\nRuns the hivekv cells against an embedded etcd (default) or the etcd named by --kvstore-opt.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	h.RegisterFlags(fs)
	logLevel := fs.String("demo-log-level", "warning", "Log level: trace, debug, info, warning, error")
	fs.BoolVar(&opts.users, "demo-users", true, "Create and delete the user demo-user")
	fs.BoolVar(&opts.serve, "demo-serve", false, "Keep the hive (and the embedded etcd) running after the demo, until interrupted")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "demo: %v\nRun 'demo --help' for usage.\n", err)
		return exitUsage
	}
	level, err := logrus.ParseLevel(*logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "--demo-log-level: %v\n", err)
		return exitUsage
	}
	logger.SetLevel(level)

	// Default to etcd, and to an embedded one when none is named.
	if !fs.Changed(config.FlagKVStore) {
		_ = fs.Set(config.FlagKVStore, kvstore.EtcdBackendName)
	}
	backend, _ := fs.GetString(config.FlagKVStore)
	kvOpts, _ := fs.GetStringToString(config.FlagKVStoreOpt)
	if backend == kvstore.EtcdBackendName && kvOpts[kvstore.EtcdAddrOption] == "" && kvOpts[kvstore.EtcdOptionConfig] == "" {
		srv, err := hivetest.NewServer(context.Background(), "")
		if err != nil {
			fmt.Fprintf(stderr, "starting the embedded etcd: %v\n", err)
			return exitFail
		}
		defer srv.Close()
		fmt.Fprintf(stdout, "embedded etcd at %s (data in %s)\n", srv.Endpoint(), srv.DataDir())
		opts.embedded = srv
		_ = fs.Set(config.FlagKVStoreOpt, kvstore.EtcdAddrOption+"="+srv.Endpoint())
	}

	if err := h.Run(cells.NewSlogLogger(logger)); err != nil {
		fmt.Fprintf(stderr, "demo failed: %v\n", err)
		return exitFail
	}
	return exitOK
}
