package hivetest

import (
	"context"
	"fmt"
	"os"
	"testing"
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

// leakWait bounds the wait for goroutines to wind down after the tests.
const leakWait = 10 * time.Second

// Main is the TestMain of a package whose tests use embedded etcd: it runs
// the tests (on a package-shared server when shared is true), then fails the
// package if any goroutine outlives them. A watcher, lease keeper, status
// checker or hive job still running once every client is closed is a bug.
//
//	func TestMain(m *testing.M) { hivetest.Main(m, true) }
func Main(m *testing.M, shared bool) {
	var code int
	if shared {
		code = RunShared(m)
	} else {
		code = m.Run()
	}
	if code == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), leakWait)
		err := FindLeaks(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak after tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
