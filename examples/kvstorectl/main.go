package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/config"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// defaultConnectTimeout replaces --kvstore-connectivity-timeout's default of
// two minutes, which suits a daemon, not a command typed in a shell.
const defaultConnectTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is an error the user fixes by changing the command line.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// env is what a command runs with.
type env struct {
	cfg     config.Config
	timeout time.Duration // per operation
	log     *logrus.Logger
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("kvstorectl", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SetInterspersed(false) // flags after the command belong to it
	def := config.DefaultConfig
	def.KVStore = kvstore.EtcdBackendName
	def.KVStoreConnectivityTimeout = defaultConnectTimeout
	def.Flags(fs)
	timeout := fs.Duration("timeout", 30*time.Second, "Timeout of each operation")
	verbose := fs.BoolP("verbose", "v", false, "Log the client's activity (debug level)")
	fs.Usage = func() { printUsage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return fail(stderr, usageError{err})
	}
	if fs.NArg() == 0 {
		printUsage(stderr, fs)
		return exitUsage
	}
	// A zero --timeout would fail every operation at once, a negative one
	// before it starts, both as if the store were slow.
	if *timeout <= 0 {
		return fail(stderr, usagef("--timeout=%s must be positive, e.g. --timeout=30s", *timeout))
	}

	log := logrus.New()
	log.SetOutput(stderr)
	// The command reports its own error; the client's logs would repeat it.
	log.SetLevel(logrus.FatalLevel)
	if *verbose {
		log.SetLevel(logrus.DebugLevel)
	}
	e := &env{cfg: configFrom(fs), timeout: *timeout, log: log, stdin: stdin, stdout: stdout, stderr: stderr}
	name := fs.Arg(0)
	cmd, ok := lookupCommand(name)
	if !ok {
		return fail(stderr, usagef("unknown command %q (run kvstorectl --help)", name))
	}
	return fail(stderr, cmd.run(ctx, e, fs.Args()[1:]))
}

// configFrom reads the parsed --kvstore* flags back into a Config.
func configFrom(fs *pflag.FlagSet) config.Config {
	var c config.Config
	c.KVStore, _ = fs.GetString(config.FlagKVStore)
	c.KVStoreOpt, _ = fs.GetStringToString(config.FlagKVStoreOpt)
	c.KVStoreConnectivityTimeout, _ = fs.GetDuration(config.FlagKVStoreConnectivityTimeout)
	c.KVStoreLeaseTTL, _ = fs.GetDuration(config.FlagKVStoreLeaseTTL)
	c.KVStorePeriodicSync, _ = fs.GetDuration(config.FlagKVStorePeriodicSync)
	c.KVStoreMaxConsecutiveQuorumErrors, _ = fs.GetUint(config.FlagKVStoreMaxConsecutiveQuorumErrors)
	return c
}

// fail prints err and maps it to an exit code.
func fail(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "kvstorectl: %v\n", err)
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	return exitFail
}

// validateConfig checks the --kvstore* flags, for every command.
func (e *env) validateConfig() error {
	if !e.cfg.Enabled() {
		return usagef("--%s must name a backend", config.FlagKVStore)
	}
	if err := e.cfg.Validate(); err != nil {
		return usageError{err}
	}
	return nil
}

// connect creates a client and waits for its connection, bounded by
// --kvstore-connectivity-timeout. The caller closes the client.
func (e *env) connect(ctx context.Context) (kvstore.BackendOperations, error) {
	c, errCh := client.NewClient(ctx, e.cfg.KVStore, e.cfg.KVStoreOpt, e.cfg.ExtraOptions(&kvstore.ExtraOptions{Logger: e.log}))
	if c == nil {
		return nil, usageError{<-errCh}
	}
	if err := <-errCh; err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// opContext bounds one operation by --timeout.
func (e *env) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.timeout)
}

// printUsage is "kvstorectl --help", the commands from the table.
func printUsage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprint(w, "Usage: kvstorectl [flags] <command> [command flags] [args]\n\nCommands:\n")
	for _, c := range commands {
		synopsis := c.usage()
		for i, l := range c.help {
			if i == 0 && len(synopsis) <= 30 {
				fmt.Fprintf(w, "  %-30s %s\n", synopsis, l)
				continue
			}
			if i == 0 {
				fmt.Fprintf(w, "  %s\n", synopsis)
			}
			fmt.Fprintf(w, "  %-30s %s\n", "", l)
		}
	}
	fmt.Fprint(w, `
"kvstorectl <command> --help" describes the command's flags.

Exit codes: 0 ok, 1 the command failed, 2 usage error (the message names the
flag or argument to fix; nothing was sent to the store).

Flags:
`)
	fs.PrintDefaults()
}
