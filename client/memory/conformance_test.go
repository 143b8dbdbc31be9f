package memory_test

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
)

// The in-memory backend passes the suite the etcd backend passes (also run,
// side by side with etcd, by the client package's TestConformance*).
func TestMemoryConformance(t *testing.T) {
	hivetest.RunConformance(t, hivetest.InMemoryBackend())
}
