package etcd

import (
	"fmt"
	"time"

	"github.com/hivekv/kvstore"
)

// heartbeatWatchBuffer is the event buffer of the heartbeat watch: one key,
// rewritten once per interval, needs hardly any.
const heartbeatWatchBuffer = 8

// watchHeartbeat follows kvstore.HeartbeatPath and records, on the local
// clock, when the key was last created or modified. The value (the writer's
// timestamp) is deliberately ignored: comparing it with our clock would
// assume synchronised clocks. Deletes and ListDone are no heartbeats: a
// deleted key means the writer's lease ran out, which is the very thing the
// check must notice. It runs on c.wg until Close, starting the watch again
// (with backoff) should it ever end while the client lives.
func (c *etcdClient) watchHeartbeat() {
	bo := newStatusBackoff(c.extra)
	for c.ctx.Err() == nil {
		w := c.ListAndWatch(c.ctx, kvstore.HeartbeatPath, heartbeatWatchBuffer)
		for ev := range w.Events {
			if ev.Key != kvstore.HeartbeatPath {
				continue // another key sharing the prefix
			}
			switch ev.Typ {
			case kvstore.EventTypeCreate, kvstore.EventTypeModify:
				c.status.sawHeartbeat(time.Now())
				c.log.Debug("Received update notification of heartbeat")
			}
		}
		if !sleepBoth(c.ctx, c.ctx, bo.Next()) {
			return
		}
	}
}

func (s *statusState) sawHeartbeat(t time.Time) {
	s.mu.Lock()
	s.lastHeartbeat = t
	s.mu.Unlock()
}

// heartbeatError reports a heartbeat older than twice the write interval.
//
// A heartbeat that was never seen is not an error, unlike Cilium 1.17 which
// starts the clock when the checker starts. The heartbeat is written by an
// optional component (the heartbeat cell); a client of a store that has no
// writer would otherwise fail its status two intervals after every start,
// for good, which teaches operators to ignore the status. The cost is that a
// writer that is already dead when this client starts goes unnoticed until
// it writes again; once one heartbeat was seen, its absence is caught.
func (c *etcdClient) heartbeatError(now time.Time) error {
	c.status.mu.Lock()
	last := c.status.lastHeartbeat
	c.status.mu.Unlock()
	if last.IsZero() {
		return nil
	}
	interval := c.extra.EffectiveHeartbeatInterval()
	if age := now.Sub(last); age > 2*interval {
		return fmt.Errorf("%s since last heartbeat update has been received (written every %s)",
			age.Round(time.Millisecond), interval)
	}
	return nil
}
