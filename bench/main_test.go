package bench

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
)

// One embedded etcd serves every benchmark of the package; benchmarks isolate
// their keys with hivetest.UniquePrefix.
func TestMain(m *testing.M) { hivetest.RunWithSharedServer(m) }
