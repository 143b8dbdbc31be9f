package hivetest

import (
	"context"
	"time"

	"go.uber.org/goleak"
)

// FindLeaks reports goroutines left running, like goleak.Find, but keeps
// retrying until none are left or ctx ends. goleak's own retries last under
// a second, while etcd's internal peer connections can take up to 5 s to wind
// down after a cluster is closed. Call it from TestMain after the tests (and
// RunShared) are done, with a ctx of about 10 s.
func FindLeaks(ctx context.Context, opts ...goleak.Option) error {
	for {
		err := goleak.Find(opts...)
		if err == nil || !sleepCtx(ctx, 200*time.Millisecond) {
			return err
		}
	}
}
