package etcd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/backoff"
)

var (
	// errTimeoutInitialConnection says the first session did not come in
	// time.
	errTimeoutInitialConnection = errors.New("timeout while waiting for initial connection")
	// errQuorumCheckSlow says a quorum check outlived its round.
	errQuorumCheckSlow = errors.New("unable to acquire lock")
)

// quorumCheck proves that the store is reachable and commits writes: it
// waits for the first session; then a request of ours committed within the
// status check timeout (quorumProvenWithin) is proof enough, otherwise it
// takes and releases a distributed lock
// under kvstore.InitLockPath/<random hex>. A lock needs a committed write,
// so it fails without a quorum even where a serializable read would still
// succeed. The random suffix keeps a lock left behind by a dead process from
// blocking the check. With ExtraOptions.NoLockQuorumCheck the session alone
// counts.
//
// It returns ctx's end as an error and records no metric: callers decide
// what a failure means. LockPath may take a few seconds past ctx to clean up
// a failed acquisition, so callers that must answer in time run it apart
// (waitConnected, startQuorumCheck).
func (c *etcdClient) quorumCheck(ctx context.Context) error {
	select {
	case <-c.firstSession:
		if c.sessionErr != nil {
			return c.sessionErr
		}
	case <-c.ctx.Done():
		return kvstore.ErrClientClosed
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", errTimeoutInitialConnection, ctx.Err())
	}
	if c.extra != nil && c.extra.NoLockQuorumCheck {
		return nil
	}
	if c.status.quorumProvenWithin(time.Now(), c.extra.EffectiveStatusCheckTimeout()) {
		// A write of ours was committed moments ago: that is the proof
		// the lock would give, so a busy client (and a fleet of them
		// starting: the first session's lease grant) adds no lock
		// traffic. An idle client takes the lock.
		return nil
	}
	path := fmt.Sprintf("%s/%x", kvstore.InitLockPath, rand.Uint64())
	l, err := c.LockPath(ctx, path)
	if err != nil {
		return fmt.Errorf("unable to acquire lock: %w", err)
	}
	// Unlock with its own budget: the lock proved the quorum already, and a
	// ctx about to expire must not leave the key behind until its lease
	// runs out.
	uctx, cancel := context.WithTimeout(c.ctx, c.extra.EffectiveStatusCheckTimeout())
	defer cancel()
	if err := l.Unlock(uctx); err != nil {
		c.log.WithError(err).WithField("path", path).Debug("Unable to release the quorum check lock")
	}
	c.log.Debug("Distributed lock successful, etcd has quorum")
	return nil
}

// newStatusBackoff spaces the retries of Connected waiters and of the
// heartbeat watch: exponentially from 50 ms up to the "not all connected"
// status check interval (5 s, stretched by the cluster size), so that a
// fleet of clients does not hammer a store that lost quorum.
func newStatusBackoff(extra *kvstore.ExtraOptions) *backoff.Backoff {
	return &backoff.Backoff{Min: backoff.DefaultMin, Max: max(extra.StatusCheckInterval(false), backoff.DefaultMin)}
}

// sleepBoth waits d; it reports false if ctx or clientCtx ended first.
func sleepBoth(ctx, clientCtx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-clientCtx.Done():
		return false
	}
}
