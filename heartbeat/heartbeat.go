package heartbeat

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/logfallback"
	"github.com/hivekv/kvstore/internal/modhealth"
)

// Heartbeat writes the current time (RFC 3339) to kvstore.HeartbeatPath,
// with lease, at once and then every interval, until ctx ends. A failed
// write is logged and the next one comes at the next interval: the readers
// tolerate one missed beat (they fail after two intervals), so retrying
// sooner would only add load to a store that is struggling. It returns
// when ctx ends; a nil log uses logrus' standard logger.
func Heartbeat(ctx context.Context, backend kvstore.BackendOperations, interval time.Duration, log logrus.FieldLogger) {
	heartbeat(ctx, backend, interval, log, nil)
}

// heartbeat is Heartbeat reporting each write's outcome to h (nil: none).
// A failed write is Degraded: readers call the heartbeat stale after two
// missed intervals.
func heartbeat(ctx context.Context, backend kvstore.BackendOperations, interval time.Duration, log logrus.FieldLogger, h *modhealth.Part) {
	log = logfallback.Or(log).WithField("interval", interval)
	log.Info("Starting to update heartbeat key")
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := write(ctx, backend, interval, log)
		switch {
		case h == nil || ctx.Err() != nil:
		case err != nil:
			h.Degraded(fmt.Sprintf("heartbeat not written (readers call it stale after %s)", 2*interval), err)
		default:
			h.OK(fmt.Sprintf("heartbeat written every %s", interval))
		}
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

func write(ctx context.Context, backend kvstore.BackendOperations, interval time.Duration, log logrus.FieldLogger) error {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout(interval))
	defer cancel()
	now := time.Now().Format(time.RFC3339)
	if err := backend.Update(wctx, kvstore.HeartbeatPath, []byte(now), true); err != nil {
		if ctx.Err() != nil {
			return nil // stopping
		}
		log.WithError(err).Warning("Unable to update heartbeat key")
		return err
	}
	log.WithField("value", now).Debug("Heartbeat key updated")
	return nil
}
