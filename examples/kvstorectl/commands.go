package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
)

// command is one subcommand: flags defines its flags, nargs the accepted
// argument counts, do the work on a connected client.
type command struct {
	args  string // synopsis for errors
	flags func(fs *pflag.FlagSet)
	nargs func(n int) bool
	do    func(ctx context.Context, e *env, c kvstore.BackendOperations, fs *pflag.FlagSet, args []string) error
	// offline commands get no client (c is nil).
	offline bool
}

func exactly(n int) func(int) bool { return func(got int) bool { return got == n } }
func atMost(n int) func(int) bool  { return func(got int) bool { return got <= n } }

var commands = map[string]command{
	"get": {args: "KEY", nargs: exactly(1), do: get},
	"put": {
		args:  "[--lease] KEY VALUE",
		flags: func(fs *pflag.FlagSet) { fs.Bool("lease", false, "attach the key to the session lease") },
		nargs: exactly(2), do: put,
	},
	"delete": {
		args:  "[--prefix] KEY",
		flags: func(fs *pflag.FlagSet) { fs.Bool("prefix", false, "delete every key that starts with KEY") },
		nargs: exactly(1), do: del,
	},
	"list": {args: "[PREFIX]", nargs: atMost(1), do: list},
	"watch": {
		args: "[--count N] [--for D] PREFIX",
		flags: func(fs *pflag.FlagSet) {
			fs.Int("count", 0, "stop after N events (0: no limit)")
			fs.Duration("for", 0, "stop after this long (0: until interrupted)")
		},
		nargs: exactly(1), do: watch,
	},
	"lock": {
		args:  "[--hold D] PATH",
		flags: func(fs *pflag.FlagSet) { fs.Duration("hold", 0, "how long to hold the lock (0: until interrupted)") },
		nargs: exactly(1), do: lock,
	},
	"status": {args: "", nargs: exactly(0), do: status},
	"dbg":    {args: "", nargs: exactly(0), do: dbg, offline: true},
}

// run parses the command's flags and arguments, connects and runs it.
func (c command) run(ctx context.Context, e *env, name string, args []string) error {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by fail
	if c.flags != nil {
		c.flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v (usage: %s %s)", name, err, name, c.args)
	}
	if !c.nargs(fs.NArg()) {
		return usagef("%s: wrong number of arguments (usage: %s %s)", name, name, c.args)
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

func get(ctx context.Context, e *env, c kvstore.BackendOperations, _ *pflag.FlagSet, args []string) error {
	ctx, cancel := e.opContext(ctx)
	defer cancel()
	v, err := c.Get(ctx, args[0])
	if err != nil {
		return err
	}
	if v == nil {
		return fmt.Errorf("key %q not found", args[0])
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", v)
	return err
}

func put(ctx context.Context, e *env, c kvstore.BackendOperations, fs *pflag.FlagSet, args []string) error {
	lease, _ := fs.GetBool("lease")
	value := []byte(args[1])
	if args[1] == "-" {
		data, err := io.ReadAll(e.stdin)
		if err != nil {
			return fmt.Errorf("reading the value from stdin: %w", err)
		}
		value = data
	}
	ctx, cancel := e.opContext(ctx)
	defer cancel()
	return c.Update(ctx, args[0], value, lease)
}

func del(ctx context.Context, e *env, c kvstore.BackendOperations, fs *pflag.FlagSet, args []string) error {
	prefix, _ := fs.GetBool("prefix")
	ctx, cancel := e.opContext(ctx)
	defer cancel()
	if prefix {
		return c.DeletePrefix(ctx, args[0])
	}
	return c.Delete(ctx, args[0])
}

func list(ctx context.Context, e *env, c kvstore.BackendOperations, _ *pflag.FlagSet, args []string) error {
	var prefix string
	if len(args) == 1 {
		prefix = args[0]
	}
	ctx, cancel := e.opContext(ctx)
	defer cancel()
	pairs, err := c.ListPrefix(ctx, prefix)
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(pairs)) {
		if _, err := fmt.Fprintf(e.stdout, "%s\t%s\n", k, pairs[k].Data); err != nil {
			return err
		}
	}
	return nil
}

func watch(ctx context.Context, e *env, c kvstore.BackendOperations, fs *pflag.FlagSet, args []string) error {
	count, _ := fs.GetInt("count")
	limit, _ := fs.GetDuration("for")
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	w := c.ListAndWatch(ctx, args[0], 64)
	defer w.Stop()
	for n := 0; count == 0 || n < count; n++ {
		ev, ok := <-w.Events
		if !ok {
			// ctx ended: --for passed or interrupted. Not a failure.
			return nil
		}
		var line string
		switch ev.Typ {
		case kvstore.EventTypeListDone:
			line = ev.Typ.String()
		case kvstore.EventTypeDelete:
			line = ev.Typ.String() + " " + ev.Key
		default:
			line = ev.Typ.String() + " " + ev.Key + " " + string(ev.Value)
		}
		if _, err := fmt.Fprintln(e.stdout, line); err != nil {
			return err
		}
	}
	return nil
}

func lock(ctx context.Context, e *env, c kvstore.BackendOperations, fs *pflag.FlagSet, args []string) error {
	hold, _ := fs.GetDuration("hold")
	path := args[0]
	lctx, cancel := e.opContext(ctx)
	l, err := c.LockPath(lctx, path)
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "locked %s\n", path)
	wait := ctx.Done()
	if hold > 0 {
		t := time.NewTimer(hold)
		defer t.Stop()
		wait = mergeDone(ctx, t.C)
	}
	select {
	case <-wait:
	case <-c.Disconnected():
		fmt.Fprintf(e.stdout, "lost the connection session: the lock may be gone\n")
	}
	uctx, cancel := e.opContext(context.WithoutCancel(ctx))
	defer cancel()
	if err := l.Unlock(uctx); err != nil {
		return fmt.Errorf("releasing %s: %w", path, err)
	}
	fmt.Fprintf(e.stdout, "unlocked %s\n", path)
	return nil
}

// mergeDone returns a channel closed when ctx ends or c fires.
func mergeDone(ctx context.Context, c <-chan time.Time) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		defer close(out)
		select {
		case <-ctx.Done():
		case <-c:
		}
	}()
	return out
}

func status(_ context.Context, e *env, c kvstore.BackendOperations, _ *pflag.FlagSet, _ []string) error {
	st := c.Status()
	fmt.Fprintln(e.stdout, st.String())
	if st.State != kvstore.StateOK {
		return fmt.Errorf("status is %s", st.State)
	}
	return nil
}
