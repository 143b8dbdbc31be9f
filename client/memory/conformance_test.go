package memory_test

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest/conformance"
)

// The in-memory backend passes the suite the etcd backend passes (run for
// etcd by package etcd's TestConformanceEtcd). This is the only place the
// suite runs on the in-memory backend.
func TestMemoryConformance(t *testing.T) {
	conformance.Run(t, conformance.InMemoryBackend())
}
