package etcd

import (
	"time"

	"github.com/hivekv/kvstore"
)

// SetWatchLivenessForTest shortens the liveness check of the watches of the
// etcd client b (watch_liveness.go): a watch quiet for idle asks for
// progress, and is stalled if the stream answered others within grace but
// not it. Set it before starting the watches.
func SetWatchLivenessForTest(b kvstore.BackendOperations, idle, grace time.Duration) {
	ws := &b.(*etcdClient).watchStreams
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.idle, ws.grace = idle, grace
}

// WatchProgressCounts returns how many progress requests the watches of the
// etcd client b sent (or attempted) and how many progress notifications
// they received.
func WatchProgressCounts(b kvstore.BackendOperations) (requests, answers int64) {
	ws := &b.(*etcdClient).watchStreams
	return ws.requests.Load(), ws.answers.Load()
}
