package fleet

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
)

// The tests share one embedded etcd (fleets apart by hivetest.UniquePrefix),
// except the scenario smoke, which needs a cluster of its own to fault;
// afterwards no goroutine of an agent may be left.
func TestMain(m *testing.M) { hivetest.Main(m, true) }
