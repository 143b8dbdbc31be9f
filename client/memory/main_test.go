package memory

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: a closed
// client must have stopped its watchers and lease goroutines.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
