package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
)

// watch prints the events of a ListAndWatch of args[0], one per line, until
// --count events were printed, --for passed or the process is interrupted.
// The flags were checked not to be negative.
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
