package client_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hivekv/kvstore/hivetest"
)

// TestMain runs the package's tests against one shared embedded etcd; tests
// keep apart with hivetest.UniquePrefix. Once every client and server is
// closed, no goroutine may be left: a watcher, lease keeper or status
// checker that outlives Close is a bug.
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
