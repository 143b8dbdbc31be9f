package cells_test

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
)

// TestMain runs the package's tests against one shared embedded etcd, then
// checks that every hive stopped in the tests left no goroutine behind: a
// cell whose stop hook returns before its goroutines exited is a bug.
func TestMain(m *testing.M) { hivetest.Main(m, true) }
