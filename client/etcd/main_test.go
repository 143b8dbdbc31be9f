package etcd_test

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
)

// TestMain runs the package's tests against one shared embedded etcd; tests
// keep apart with hivetest.UniquePrefix. Once every client and server is
// closed, no goroutine may be left: a watcher, lease keeper or status
// checker that outlives Close is a bug.
func TestMain(m *testing.M) { hivetest.Main(m, true) }
