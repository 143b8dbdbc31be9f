package client

import (
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/pathlock"
	"github.com/hivekv/kvstore/internal/logfallback"
)

// StaleLock is a process-local path lock that the GC force-released.
type StaleLock struct {
	Path string
	Age  time.Duration // how long it had been held
}

// RunLockGC force-releases the process-local path locks of every client in
// the process that were held longer than kvstore.DefaultStaleLockTimeout,
// logging each at error level. Run it periodically (the lockgc cell does).
//
// A released lock's owner is not told; its late Unlock releases nothing
// locally and cannot delete a newer owner's etcd key, and its *IfLocked
// operations fail once a newer owner took the path. Its etcd key, if the
// owner never unlocks, stays until this client takes the path again or the
// lock sweep removes it.
func RunLockGC() {
	RunLockGCWithTimeout(kvstore.DefaultStaleLockTimeout, nil)
}

// RunLockGCWithTimeout is RunLockGC with a given stale timeout, logging to
// log (nil: logrus' standard logger). It returns what it released, sorted by
// path within each client.
func RunLockGCWithTimeout(timeout time.Duration, log logrus.FieldLogger) []StaleLock {
	log = logfallback.OrWithSubsys(log, "kvstore")
	stale := pathlock.RunGC(timeout)
	out := make([]StaleLock, 0, len(stale))
	for _, s := range stale {
		log.WithFields(logrus.Fields{"path": s.Path, "age": s.Age, "timeout": timeout}).
			Error("Forcefully unlocking local kvstore lock: held longer than the stale lock timeout, its owner probably leaked it")
		out = append(out, StaleLock{Path: s.Path, Age: s.Age})
	}
	return out
}
