package etcd

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore/internal/backoff"
)

// Deleting lock keys when an acquisition fails or an Unlock cannot reach
// the server. A lock key lives on the client's shared lock lease, which is
// kept alive as long as the client is: a key whose delete was lost would
// block every other node on that path until the client closes.

// abandonAcquisition removes the key of a failed acquisition. It runs while
// the local lock is still held, so the key, if it exists, belongs to this
// acquisition (or to a GC'd owner that is fenced out anyway).
func (c *etcdClient) abandonAcquisition(l *etcdLocker) {
	if l.rev > 0 {
		c.releaseKey(l, "abandon")
		return
	}
	// The create request failed, maybe after the server applied it: the
	// revision is unknown, so delete whatever key this lease has here. If
	// the GC took the local lock meanwhile, a newer acquisition may own
	// the key: leave it.
	if !c.lock.local.Holds(l.path, l.owner) {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, lockCleanupTimeout)
	defer cancel()
	_, err := do(ctx, c, request{}, func(cli *clientv3.Client) (*clientv3.DeleteResponse, error) {
		return cli.Delete(ctx, l.key)
	})
	if err != nil && c.ctx.Err() == nil {
		c.log.WithError(err).WithField("key", l.key).
			Warning("Unable to remove the key of a failed lock acquisition; it goes with its lease or the next acquisition replaces it")
	}
}

// releaseKey deletes l's key on a fresh context, and keeps trying in the
// background if the server cannot be reached.
func (c *etcdClient) releaseKey(l *etcdLocker, why string) {
	ctx, cancel := context.WithTimeout(c.ctx, lockCleanupTimeout)
	defer cancel()
	if _, err := c.deleteLockKey(ctx, l.key, l.rev); err != nil {
		c.releaseLater(l, why, err)
	}
}

// deleteLockKey deletes key if it still has create revision rev, that is if
// it is still the incarnation we created: a later acquisition's key of the
// same name (same lease) is left alone. It reports whether it deleted.
func (c *etcdClient) deleteLockKey(ctx context.Context, key string, rev int64) (bool, error) {
	resp, err := do(ctx, c, request{kind: kindDelete, action: "ReleaseLock", key: key},
		func(cli *clientv3.Client) (*clientv3.TxnResponse, error) {
			return cli.Txn(ctx).
				If(clientv3.Compare(clientv3.CreateRevision(key), "=", rev)).
				Then(clientv3.OpDelete(key)).
				Commit()
		})
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// deleteOwnLockKey deletes key unconditionally; the caller knows that no
// other acquisition can own a key of that name.
func (c *etcdClient) deleteOwnLockKey(ctx context.Context, key string) (bool, error) {
	resp, err := do(ctx, c, request{kind: kindDelete, action: "ReleaseLock", key: key},
		func(cli *clientv3.Client) (*clientv3.DeleteResponse, error) { return cli.Delete(ctx, key) })
	if err != nil {
		return false, err
	}
	return resp.Deleted > 0, nil
}

// releaseLater retries deleting l's key until it succeeds, the key's lease
// ends (the key goes with it) or the client closes. Without it, a key whose
// delete failed during a short outage would outlive its owner for as long
// as this client keeps the shared lock lease alive, blocking every other
// node (Cilium #9855).
func (c *etcdClient) releaseLater(l *etcdLocker, why string, cause error) {
	if c.ctx.Err() != nil {
		return // closing: the key goes with its lease
	}
	log := c.log.WithFields(logrus.Fields{"path": l.path, "key": l.key, "reason": why})
	log.WithError(cause).Warning("Unable to delete lock key, retrying in the background")
	c.spawn(func() {
		b := backoff.Backoff{Min: 200 * time.Millisecond, Max: c.extra.EffectiveLockLeaseTTL() / 2}
		for {
			select {
			case <-time.After(b.Next()):
			case <-l.session.Done():
				log.Info("Lock key's lease ended; the key went with it")
				return
			case <-c.ctx.Done():
				return
			}
			ctx, cancel := context.WithTimeout(c.ctx, lockCleanupTimeout)
			_, err := c.deleteLockKey(ctx, l.key, l.rev)
			cancel()
			if err == nil {
				log.Info("Deleted lock key after retrying")
				return
			}
		}
	})
}
