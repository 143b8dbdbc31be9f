package heartbeat_test

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
)

// TestMain fails the package if a writer, a hive or a client outlives the
// tests.
func TestMain(m *testing.M) { hivetest.Main(m, false) }
