package lockgc_test

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
)

// TestMain runs the tests on one shared embedded etcd, then checks that the
// cell's goroutines ended with the hives that ran them.
func TestMain(m *testing.M) { hivetest.Main(m, true) }
