package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
)

// command is one subcommand. Adding one is adding a row to commands: the
// dispatch, the usage text and the argument checks all come from the table.
type command struct {
	name     string
	synopsis string   // flags and arguments: "[--lease] KEY VALUE"
	help     []string // lines of the usage text
	// flags defines the command's flags (nil: none).
	flags func(fs *pflag.FlagSet)
	// nargs says whether the command takes n arguments.
	nargs func(n int) bool
	// check refuses flag values and arguments that parse but make no sense
	// (negative durations, empty keys, ...) with a usageError naming the
	// flag or argument. nil: nothing to check beyond nargs.
	check func(fs *pflag.FlagSet, args []string) error
	// do runs the command on a connected client, or with c nil when
	// offline.
	do      func(ctx context.Context, e *env, c kvstore.BackendOperations, fs *pflag.FlagSet, args []string) error
	offline bool
}

// commands is the table of subcommands, in the order of the usage text.
var commands = []command{
	{
		name: "get", synopsis: "KEY",
		help:  []string{"print the value of KEY"},
		nargs: exactly(1), check: nonEmptyArgs("KEY"), do: get,
	},
	{
		name: "put", synopsis: "[--lease] KEY VALUE",
		help:  []string{`write VALUE ("-" reads it from stdin as is, like etcdctl:`, "`echo v` gives \"v\\n\"; use `printf %s v` for \"v\")"},
		flags: func(fs *pflag.FlagSet) { fs.Bool("lease", false, "attach the key to the session lease") },
		nargs: exactly(2), check: nonEmptyArgs("KEY"), do: put,
	},
	{
		name: "delete", synopsis: "KEY | --prefix PREFIX | --all",
		help: []string{
			"delete KEY, or every key under PREFIX (not empty),",
			"or every key in the store (--all)",
		},
		flags: func(fs *pflag.FlagSet) {
			fs.Bool("prefix", false, "delete every key that starts with PREFIX (an empty PREFIX needs --all)")
			fs.Bool("all", false, "delete every key in the store")
		},
		nargs: atMost(1), check: checkDelete, do: del,
	},
	{
		name: "list", synopsis: "[PREFIX]",
		help:  []string{`print "KEY<TAB>VALUE" per key, sorted`},
		nargs: atMost(1), do: list,
	},
	{
		name: "watch", synopsis: "[--count N] [--for D] PREFIX",
		help: []string{
			"list PREFIX, then print its changes; stop after N",
			"events or after D (0: no limit)",
		},
		flags: func(fs *pflag.FlagSet) {
			fs.Int("count", 0, "stop after N events (0: no limit)")
			fs.Duration("for", 0, "stop after this long (0: until interrupted)")
		},
		nargs: exactly(1),
		check: all(nonNegativeInt("count", "no limit"), nonNegativeDuration("for", "until interrupted")),
		do:    watch,
	},
	{
		name: "lock", synopsis: "[--hold D] PATH",
		help:  []string{"take the lock PATH, hold it D (0: until interrupted)"},
		flags: func(fs *pflag.FlagSet) { fs.Duration("hold", 0, "how long to hold the lock (0: until interrupted)") },
		nargs: exactly(1),
		check: all(nonNegativeDuration("hold", "until interrupted"), nonEmptyArgs("PATH")),
		do:    lock,
	},
	{
		name: "status", help: []string{"print the client's status"},
		nargs: exactly(0), do: status,
	},
	{
		name: "dbg", help: []string{"troubleshooting report on the etcd configuration"},
		nargs: exactly(0), do: dbg, offline: true,
	},
}

// lookupCommand returns the command called name.
func lookupCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func exactly(n int) func(int) bool { return func(got int) bool { return got == n } }
func atMost(n int) func(int) bool  { return func(got int) bool { return got <= n } }

// usage is the command's one-line synopsis, for error messages.
func (c command) usage() string {
	return strings.TrimSpace(c.name + " " + c.synopsis)
}

// run parses the command's flags and arguments, checks them, connects and
// runs the command. Every problem found before connecting is a usageError.
func (c command) run(ctx context.Context, e *env, args []string) error {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by fail
	if c.flags != nil {
		c.flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			c.printHelp(e.stderr, fs)
			return nil
		}
		return usagef("%s: %v (usage: %s)", c.name, err, c.usage())
	}
	if !c.nargs(fs.NArg()) {
		return usagef("%s: wrong number of arguments: got %d (usage: %s)", c.name, fs.NArg(), c.usage())
	}
	if c.check != nil {
		if err := c.check(fs, fs.Args()); err != nil {
			return usagef("%s: %v (usage: %s)", c.name, err, c.usage())
		}
	}
	if err := e.validateConfig(); err != nil {
		return err
	}
	if c.offline {
		return c.do(ctx, e, nil, fs, fs.Args())
	}
	client, err := e.connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	return c.do(ctx, e, client, fs, fs.Args())
}

// printHelp is "kvstorectl CMD --help".
func (c command) printHelp(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "Usage: kvstorectl [flags] %s\n\n", c.usage())
	for _, l := range c.help {
		fmt.Fprintf(w, "  %s\n", l)
	}
	if fs.HasFlags() {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}
