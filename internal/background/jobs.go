package background

import (
	"context"
	"fmt"
	"sync"
)

// Jobs is the work of one lifecycle hook. The zero value is ready; Start and
// Stop are called once each, in that order, as hive does (Stop without Start
// is a no-op).
type Jobs struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start runs each fn on a goroutine of its own. Their context is not the
// hook's, which hive cancels as soon as Start returns: it ends at Stop.
func (j *Jobs) Start(fns ...func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	j.cancel = cancel
	for _, fn := range fns {
		j.wg.Add(1)
		go func() {
			defer j.wg.Done()
			fn(ctx)
		}()
	}
}

// Stop cancels the jobs' context and waits for every fn to return. If ctx
// ends first it returns an error saying that waiting for what was cut
// short; the jobs then finish on their own.
func (j *Jobs) Stop(ctx context.Context, what string) error {
	if j.cancel == nil {
		return nil
	}
	j.cancel()
	done := make(chan struct{})
	go func() {
		j.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s to stop: %w", what, ctx.Err())
	}
}
