package hivetest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestMain runs the package on a shared server and then checks that closing
// every server left no goroutines behind, which is what packages using the
// kit rely on for their own leak checks.
func TestMain(m *testing.M) {
	code := RunShared(m)
	if code == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := FindLeaks(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak after tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
