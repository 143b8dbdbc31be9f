package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
)

// lock takes the lock args[0], holds it for --hold (checked not to be
// negative; 0: until interrupted) or until the session is lost, and
// releases it.
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
	held := ctx
	if hold > 0 {
		var cancelHold context.CancelFunc
		held, cancelHold = context.WithTimeout(ctx, hold)
		defer cancelHold()
	}
	select {
	case <-held.Done():
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
