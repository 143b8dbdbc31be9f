package client_test

import (
	"testing"

	"github.com/hivekv/kvstore/hivetest"
)

// Both backends must pass the same suite: code tested on the in-memory
// backend then behaves the same on etcd.

func TestConformanceEtcd(t *testing.T) {
	hivetest.RunConformance(t, hivetest.EtcdBackend(hivetest.SharedServer(t)))
}

func TestConformanceInMemory(t *testing.T) {
	hivetest.RunConformance(t, hivetest.InMemoryBackend())
}
