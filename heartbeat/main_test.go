package heartbeat_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hivekv/kvstore/hivetest"
)

// TestMain fails the package if a writer, a hive or a client outlives the
// tests.
func TestMain(m *testing.M) {
	code := m.Run()
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
