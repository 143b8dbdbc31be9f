package store_test

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
)

// The integration tests share one embedded etcd (keys apart by
// hivetest.UniquePrefix); afterwards no goroutine of a store may be left.
func TestMain(m *testing.M) { hivetest.Main(m, true) }
