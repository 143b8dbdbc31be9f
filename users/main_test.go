package users_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hivekv/kvstore/hivetest"
)

// TestMain runs the package's tests against one shared embedded etcd, then
// checks that every hive stopped in the tests left no goroutine behind: a
// cell whose stop hook returns before its goroutines exited is a bug.
func TestMain(m *testing.M) {
	code := hivetest.RunShared(m)
	if code == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := hivetest.FindLeaks(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak after tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
