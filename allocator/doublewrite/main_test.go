package doublewrite_test

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
)

func TestMain(m *testing.M) { hivetest.Main(m, true) }
