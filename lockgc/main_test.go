package lockgc_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hivekv/kvstore/hivetest"
)

// TestMain runs the tests on one shared embedded etcd, then checks that the
// cell's goroutines ended with the hives that ran them.
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
