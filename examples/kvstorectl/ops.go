package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
)

// The key commands: one request each, bounded by --timeout.

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
		// Byte for byte, as etcdctl put stores its stdin: stripping a
		// newline would make values that end in one impossible to write.
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

// del is delete; checkDelete has sorted out which form it is.
func del(ctx context.Context, e *env, c kvstore.BackendOperations, fs *pflag.FlagSet, args []string) error {
	prefix, _ := fs.GetBool("prefix")
	everything, _ := fs.GetBool("all")
	ctx, cancel := e.opContext(ctx)
	defer cancel()
	switch {
	case everything:
		return c.DeletePrefix(ctx, "")
	case prefix:
		return c.DeletePrefix(ctx, args[0])
	default:
		return c.Delete(ctx, args[0])
	}
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

func status(_ context.Context, e *env, c kvstore.BackendOperations, _ *pflag.FlagSet, _ []string) error {
	st := c.Status()
	fmt.Fprintln(e.stdout, st.String())
	if st.State != kvstore.StateOK {
		return fmt.Errorf("status is %s", st.State)
	}
	return nil
}
