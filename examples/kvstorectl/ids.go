package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
)

// The ids command reads and collects the ID allocator's keys (package
// allocator): master keys B/id/<ID>, slave keys B/value/<key>/<node>.
//
//	ids [--base-path B] list              "ID<TAB>KEY<TAB>NODES" per ID, by ID
//	ids [--base-path B] get KEY           the ID the key's slave keys name
//	ids [--base-path B] get-id ID         the key of ID
//	ids [--base-path B] gc --dry-run      the IDs a GC round would delete now
//	ids [--base-path B] gc [--interval D] two GC rounds D apart
func init() {
	// Appended rather than listed in commands.go: the row lives with its
	// command, and the table's other rows stay untouched.
	commands = append(commands, command{
		name:     "ids",
		synopsis: "[--base-path B] list | get KEY | get-id ID | gc [--dry-run] [--interval D]",
		help: []string{
			"the ID allocator's keys under B: list IDs with key and nodes,",
			"the ID of KEY, the key of ID, or what a GC round would delete",
			"(--dry-run; without it two rounds D apart delete unused IDs)",
		},
		flags: func(fs *pflag.FlagSet) {
			fs.String("base-path", allocator.DefaultBasePath, "base path B of the allocator's keys")
			fs.Bool("dry-run", false, "gc: print what a round would delete, delete nothing")
			fs.Duration("interval", time.Minute, "gc: time between the marking and the deleting round")
		},
		nargs: func(n int) bool { return n == 1 || n == 2 },
		check: all(checkIDs, nonNegativeDuration("interval", "no wait")),
		do:    ids,
	})
}

// idsArgs is how many arguments each ids subcommand takes.
var idsArgs = map[string]int{"list": 0, "get": 1, "get-id": 1, "gc": 0}

// checkIDs refuses, before connecting, what ids cannot run.
func checkIDs(fs *pflag.FlagSet, args []string) error {
	sub, rest := args[0], args[1:]
	n, ok := idsArgs[sub]
	if !ok {
		return fmt.Errorf("unknown subcommand %q (list, get, get-id, gc)", sub)
	}
	if len(rest) != n {
		return fmt.Errorf("%s takes %d argument(s), got %d", sub, n, len(rest))
	}
	if base, _ := fs.GetString("base-path"); strings.Trim(base, "/") == "" {
		return errors.New("--base-path must not be empty")
	}
	switch sub {
	case "get":
		if rest[0] == "" {
			return errors.New("KEY must not be empty")
		}
	case "get-id":
		if id, err := allocator.ParseID(rest[0]); err != nil || id == allocator.NoID {
			return fmt.Errorf("ID %q is not a positive decimal number", rest[0])
		}
	}
	return nil
}

func ids(ctx context.Context, e *env, c kvstore.BackendOperations, fs *pflag.FlagSet, args []string) error {
	base, _ := fs.GetString("base-path")
	base = strings.TrimSuffix(base, "/")
	b, err := allocator.NewKVStoreBackend(allocator.KVStoreBackendConfig{BasePath: base, Backend: c})
	if err != nil {
		return err
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list":
		return idsList(ctx, e, c, base)
	case "get":
		opCtx, cancel := e.opContext(ctx)
		defer cancel()
		id, err := b.Get(opCtx, rest[0])
		if err != nil {
			return err
		}
		if id == allocator.NoID {
			return fmt.Errorf("key %q has no ID (no node uses it)", rest[0])
		}
		_, err = fmt.Fprintln(e.stdout, id)
		return err
	case "get-id":
		id, _ := allocator.ParseID(rest[0]) // checked by checkIDs
		opCtx, cancel := e.opContext(ctx)
		defer cancel()
		key, err := b.GetByID(opCtx, id)
		if err != nil {
			return err
		}
		if key == "" {
			return fmt.Errorf("ID %d is free", id)
		}
		_, err = fmt.Fprintln(e.stdout, key)
		return err
	default:
		if dry, _ := fs.GetBool("dry-run"); dry {
			return idsUnused(ctx, e, c, base)
		}
		interval, _ := fs.GetDuration("interval")
		return idsGC(ctx, e, b, interval)
	}
}

// idState is what the store says about the IDs: master keys and, per key,
// the nodes whose slave keys name each ID.
type idState struct {
	keys  map[allocator.ID]string
	nodes map[allocator.ID][]string
}

func readIDs(ctx context.Context, e *env, c kvstore.BackendOperations, base string) (*idState, error) {
	ctx, cancel := e.opContext(ctx)
	defer cancel()
	masters, err := c.ListPrefix(ctx, base+"/id/")
	if err != nil {
		return nil, err
	}
	slaves, err := c.ListPrefix(ctx, base+"/value/")
	if err != nil {
		return nil, err
	}
	st := &idState{keys: map[allocator.ID]string{}, nodes: map[allocator.ID][]string{}}
	for name, v := range masters {
		id, err := allocator.ParseID(strings.TrimPrefix(name, base+"/id/"))
		if err != nil {
			continue
		}
		st.keys[id] = string(v.Data)
	}
	for name, v := range slaves {
		rest := strings.TrimPrefix(name, base+"/value/")
		i := strings.LastIndexByte(rest, '/')
		id, err := allocator.ParseID(string(v.Data))
		if i < 0 || err != nil || st.keys[id] != rest[:i] {
			continue // a slave key of another ID's key: not a use of id
		}
		st.nodes[id] = append(st.nodes[id], rest[i+1:])
	}
	return st, nil
}

func idsList(ctx context.Context, e *env, c kvstore.BackendOperations, base string) error {
	st, err := readIDs(ctx, e, c, base)
	if err != nil {
		return err
	}
	if len(st.keys) == 0 {
		// On stderr, so that stdout stays one line per ID for scripts.
		fmt.Fprintf(e.stderr, "no IDs under %s/id/\n", base)
		return nil
	}
	for _, id := range slices.Sorted(maps.Keys(st.keys)) {
		nodes := st.nodes[id]
		slices.Sort(nodes)
		if _, err := fmt.Fprintf(e.stdout, "%d\t%s\t%s\n", id, st.keys[id], strings.Join(nodes, ",")); err != nil {
			return err
		}
	}
	return nil
}

// idsUnused prints the IDs no node uses now: those a GC round would
// delete if it found them unchanged in the next round.
func idsUnused(ctx context.Context, e *env, c kvstore.BackendOperations, base string) error {
	st, err := readIDs(ctx, e, c, base)
	if err != nil {
		return err
	}
	unused := 0
	for _, id := range slices.Sorted(maps.Keys(st.keys)) {
		if len(st.nodes[id]) > 0 {
			continue
		}
		unused++
		if _, err := fmt.Fprintf(e.stdout, "would delete\t%d\t%s\n", id, st.keys[id]); err != nil {
			return err
		}
	}
	switch {
	case len(st.keys) == 0:
		fmt.Fprintf(e.stderr, "no IDs under %s/id/: nothing to delete\n", base)
	case unused == 0:
		fmt.Fprintf(e.stderr, "no unused IDs under %s/id/ (%d in use): nothing to delete\n", base, len(st.keys))
	}
	return nil
}

// idsGC runs a marking round, waits interval and runs the deleting round.
func idsGC(ctx context.Context, e *env, b allocator.Backend, interval time.Duration) error {
	limiter := rate.NewLimiter(rate.Limit(allocator.DefaultGCRate), allocator.DefaultGCRate)
	marks, _, err := b.RunGC(ctx, limiter, nil, allocator.NoID, allocator.NoID)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "marked\t%d\n", len(marks))
	if len(marks) == 0 {
		return nil
	}
	select {
	case <-time.After(interval):
	case <-ctx.Done():
		return ctx.Err()
	}
	_, stats, err := b.RunGC(ctx, limiter, marks, allocator.NoID, allocator.NoID)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "deleted\t%d\nalive\t%d\n", stats.Deleted, stats.Alive)
	return err
}
