package etcd

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/backoff"
)

// watchHeartbeat follows kvstore.HeartbeatPath and records, on the local
// clock, when the key was last created or modified. The value (the writer's
// timestamp) is deliberately ignored: comparing it with our clock would
// assume synchronised clocks. Deletes are no heartbeats: a deleted key means
// the writer's lease ran out, which is the very thing the check must notice.
//
// It is a plain watch from the current revision, without a list: a key that
// exists already says nothing about when it was written (and counting it as
// fresh would hide a dead writer), so only writes seen live count. That
// saves every client one range request at start. The watch resumes from the
// revision after the last one it saw, or from the current one if that was
// compacted, with backoff. It runs on c.wg until Close.
func (c *etcdClient) watchHeartbeat() {
	bo := newStatusBackoff(c.extra)
	var next int64 // 0: from the current revision
	for c.ctx.Err() == nil {
		cli, err := c.client(c.ctx)
		if err != nil {
			return
		}
		next = c.followHeartbeat(cli, next, bo)
		if !sleepBoth(c.ctx, c.ctx, bo.Next()) {
			return
		}
	}
}

// followHeartbeat runs one heartbeat watch from revision next (0: now) until
// it ends, and returns the revision to resume from.
func (c *etcdClient) followHeartbeat(cli *clientv3.Client, next int64, bo *backoff.Backoff) int64 {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(c.ctx))
	defer cancel()
	opts := []clientv3.OpOption{}
	if next > 0 {
		opts = append(opts, clientv3.WithRev(next))
	}
	for resp := range cli.Watch(ctx, kvstore.HeartbeatPath, opts...) {
		if resp.CompactRevision != 0 {
			return 0
		}
		if resp.Err() != nil || resp.Canceled {
			return next
		}
		bo.Reset()
		for _, ev := range resp.Events {
			next = ev.Kv.ModRevision + 1
			if ev.Type == clientv3.EventTypePut {
				c.status.sawHeartbeat(time.Now())
				c.log.Debug("Received update notification of heartbeat")
			}
		}
	}
	return next
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
