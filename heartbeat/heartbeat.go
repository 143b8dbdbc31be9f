package heartbeat

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/logfallback"
)

// Heartbeat writes the current time (RFC 3339) to kvstore.HeartbeatPath,
// with lease, at once and then every interval, until ctx ends. A failed
// write is logged and the next one comes at the next interval: the readers
// tolerate one missed beat (they fail after two intervals), so retrying
// sooner would only add load to a store that is struggling. It returns
// when ctx ends; a nil log uses logrus' standard logger.
func Heartbeat(ctx context.Context, backend kvstore.BackendOperations, interval time.Duration, log logrus.FieldLogger) {
	log = logfallback.Or(log).WithField("interval", interval)
	log.Info("Starting to update heartbeat key")
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		write(ctx, backend, interval, log)
		select {
		case <-ctx.Done():
			log.Info("Stopping to update heartbeat key")
			return
		case <-t.C:
		}
	}
}

// writeTimeout bounds one write: an interval, but at least a second (a busy
// store must get a chance with short test intervals) and at most the lock
// lease TTL, as in Cilium v1.16.
func writeTimeout(interval time.Duration) time.Duration {
	return min(max(interval, time.Second), kvstore.DefaultLockLeaseTTL)
}

func write(ctx context.Context, backend kvstore.BackendOperations, interval time.Duration, log logrus.FieldLogger) {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout(interval))
	defer cancel()
	now := time.Now().Format(time.RFC3339)
	if err := backend.Update(wctx, kvstore.HeartbeatPath, []byte(now), true); err != nil {
		if ctx.Err() != nil {
			return // stopping
		}
		log.WithError(err).Warning("Unable to update heartbeat key")
		return
	}
	log.WithField("value", now).Debug("Heartbeat key updated")
}
