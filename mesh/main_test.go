package mesh_test

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
)

// The tests share one embedded etcd as the local kvstore (keys apart by
// cluster name); afterwards no goroutine of a mesh may be left.
func TestMain(m *testing.M) { hivetest.Main(m, true) }
