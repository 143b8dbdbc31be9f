package etcd

import (
	"testing"
	"time"

	"github.com/hivekv/kvstore"
)

// Hooks into the lock internals for the tests of package client_test.

// SetLockTimeoutForTest shortens the LockPath cap until the test ends.
func SetLockTimeoutForTest(tb testing.TB, d time.Duration) {
	old := lockTimeout.Swap(int64(d))
	tb.Cleanup(func() { lockTimeout.Store(old) })
}

// LocalLocksHeld returns how many process-local path locks the etcd client b
// holds.
func LocalLocksHeld(b kvstore.BackendOperations) int {
	return b.(*etcdClient).lock.local.Held()
}

// SetLocalLockClock replaces the clock of the etcd client b's local lock
// table, so a test can age its locks without touching other clients'.
func SetLocalLockClock(b kvstore.BackendOperations, now func() time.Time) {
	b.(*etcdClient).lock.local.SetClock(now)
}
