package allocator_test

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
)

// TestMain runs the tests on one shared embedded etcd (tests keep apart by
// base path), then checks that no allocator goroutine outlived its test.
func TestMain(m *testing.M) { hivetest.Main(m, true) }
