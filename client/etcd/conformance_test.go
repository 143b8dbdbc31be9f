package etcd_test

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/hivetest/conformance"
)

// The etcd backend passes the suite the in-memory backend passes (run for it
// by package memory): code tested on the in-memory backend then behaves the
// same on etcd.
func TestConformanceEtcd(t *testing.T) {
	conformance.Run(t, conformance.EtcdBackend(hivetest.SharedServer(t)))
}
