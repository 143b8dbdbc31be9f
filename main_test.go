package kvstore_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the Watcher
// tests start backend-like goroutines that must all have exited.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
