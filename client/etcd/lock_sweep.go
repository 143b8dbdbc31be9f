package etcd

import (
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
)

// SweptLock is a distributed lock key that a sweep deleted
// (kvstore.SweptLock).
type SweptLock = kvstore.SweptLock

// LockSweeper removes distributed lock keys whose holder kept them
// unchanged across two sweeps (kvstore.LockSweeper: the module's one
// stale-lock rule, also the allocator's RunLocksGC).
type LockSweeper = kvstore.LockSweeper

// NewLockSweeper is kvstore.NewLockSweeper, kept here where the sweeper
// lived first.
func NewLockSweeper(backend kvstore.BackendOperations, prefixes []string, minAge time.Duration, log logrus.FieldLogger) (*LockSweeper, error) {
	return kvstore.NewLockSweeper(backend, prefixes, minAge, log)
}
