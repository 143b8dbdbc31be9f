package etcd

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
)

// watch follows the prefix from r.nextRev. It returns true when the watch
// failed in a way that needs a resync (the history from nextRev was
// compacted), false once the watcher must exit. A channel that closes, or a
// watch the server ends for any other reason (lost leader, shutdown), is
// re-created from the next revision after a backoff: nothing was lost, so no
// list is needed.
func (r *watchRun) watch() (resync bool) {
	for !r.done() {
		wctx, cancel := context.WithCancel(r.ctx)
		ch, err := r.startWatch(wctx)
		if err != nil {
			cancel()
			if r.done() {
				return false
			}
			if !r.retryAfter("watch", err, &r.watchRetry) {
				return false
			}
			continue
		}
		progressed, failed, err := r.consume(ch)
		// Ends the clientv3 substream; without it the server would keep
		// sending to a watch nobody reads.
		cancel()
		if r.done() {
			return false
		}
		if progressed {
			// The watch worked for a while: this is a fresh failure, not
			// one more of a series.
			r.watchRetry.Reset()
			r.succeeded()
		}
		if err == nil {
			err = fmt.Errorf("watch channel closed by the etcd client, resuming at revision %d", r.nextRev)
		}
		if !r.retryAfter("watch", err, &r.watchRetry) {
			return false
		}
		if failed {
			return true
		}
	}
	return false
}

// startWatch opens one watch from r.nextRev. The request holds a rate-limit
// token and an inflight slot only while it is being set up: a watch is
// long-lived and must not occupy a slot for its lifetime.
func (r *watchRun) startWatch(ctx context.Context) (clientv3.WatchChan, error) {
	// WithRequireLeader makes the server cancel the watch when its member
	// loses the leader; otherwise a partitioned member would keep the watch
	// open and silently deliver nothing.
	ch, err := do(ctx, r.c, request{}, func(cli *clientv3.Client) (clientv3.WatchChan, error) {
		return cli.Watch(clientv3.WithRequireLeader(ctx), r.prefix,
			clientv3.WithPrefix(), clientv3.WithRev(r.nextRev)), nil
	})
	if err != nil {
		return nil, wrapOp("watch", r.prefix, err)
	}
	if tracing.Load() {
		Trace("Watch started", nil, logrus.Fields{"prefix": r.prefix, "revision": r.nextRev})
	}
	return ch, nil
}

// consume delivers the responses of one watch. It returns when the channel
// closes (failed false, err nil), when the watch reports an error (failed
// true, err says why) or when the watcher must exit. progressed says whether
// the watch delivered anything.
func (r *watchRun) consume(ch clientv3.WatchChan) (progressed, failed bool, err error) {
	for {
		var (
			resp clientv3.WatchResponse
			ok   bool
		)
		select {
		case resp, ok = <-ch:
		case <-r.ctx.Done():
			return progressed, false, nil
		case <-r.w.Stopping():
			return progressed, false, nil
		}
		if !ok {
			return progressed, false, nil
		}
		if err := resp.Err(); err != nil || resp.Canceled {
			if err == nil {
				err = fmt.Errorf("canceled by the server: %s", resp.CancelReason)
			}
			if resp.CompactRevision != 0 {
				return progressed, true, fmt.Errorf("watching from revision %d: history compacted up to revision %d: %w",
					r.nextRev, resp.CompactRevision, err)
			}
			// Any other end (the member lost its leader, the server
			// shut down, overload) lost nothing: the history from
			// nextRev is still there, so the watch resumes from it
			// instead of relisting. A fleet relisting after every
			// leader election is the load that keeps a cluster down
			// (Cilium #42977); should the history be gone by then,
			// the new watch is told so and relists.
			return progressed, false, fmt.Errorf("watching from revision %d: %w", r.nextRev, err)
		}
		if resp.IsProgressNotify() {
			// Everything up to the header revision was delivered.
			r.nextRev = max(r.nextRev, resp.Header.Revision+1)
			progressed = true
			continue
		}
		for _, ev := range resp.Events {
			if !r.deliver(ev) {
				return progressed, false, nil
			}
			// The next revision comes from the events, not the header:
			// a watch catching up receives batches whose header shows
			// the store's current revision while later batches still
			// hold older events.
			r.nextRev = ev.Kv.ModRevision + 1
		}
		progressed = true
	}
}

// deliver emits one etcd event. A Put of a key the consumer does not know is
// a Create (in a consistent stream that is exactly when create revision ==
// mod revision), otherwise a Modify. A Delete of a key the consumer never saw
// carries no information and is skipped.
func (r *watchRun) deliver(ev *clientv3.Event) bool {
	k := string(ev.Kv.Key)
	switch ev.Type {
	case clientv3.EventTypeDelete:
		if !r.keys.Remove(k) {
			return true
		}
		return r.emit(kvstore.EventTypeDelete, k, nil)
	default:
		// A version above 1 says the key existed at the previous
		// revision, which this consistent stream (list, then watch from
		// the list's revision) has reported: the key set knows it, and
		// the lookup, a tenth of the client's cost per event in a busy
		// fleet, is skipped. A first version is a creation, or a
		// re-creation after a delete the set has recorded.
		typ := kvstore.EventTypeModify
		if ev.Kv.Version <= 1 && !r.keys.See(k) {
			typ = kvstore.EventTypeCreate
		}
		return r.emit(typ, k, ev.Kv.Value)
	}
}
