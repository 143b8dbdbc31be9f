package etcd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/backoff"
)

// watch follows the prefix from r.nextRev. It returns true when the watch
// failed in a way that needs a resync (the history from nextRev was
// compacted), false once the watcher must exit. A channel that closes, or a
// watch the server ends for any other reason (lost leader, shutdown), is
// re-created from the next revision after a backoff: nothing was lost, so no
// list is needed. So is a watch found stalled (watch_liveness.go), on a
// fresh stream.
func (r *watchRun) watch() (resync bool) {
	for !r.done() {
		s := r.c.watchStreams.current()
		wctx, cancel := context.WithCancel(r.ctx)
		ch, err := r.startWatch(wctx, cancel, s)
		if err != nil {
			cancel()
			if r.done() {
				return false
			}
			if errors.Is(err, errWatchStalled) {
				if !r.stalled(s, "creating") {
					return false
				}
				continue
			}
			if !r.retryAfter("watch", err, &r.watchRetry) {
				return false
			}
			continue
		}
		progressed, failed, err := r.consume(ch, s)
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
		if errors.Is(err, errWatchStalled) {
			if !r.stalled(s, "receiving") {
				return false
			}
			continue
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

// stalled moves new watches off s and waits a random part of the grace
// period, so that the watches stalled together are re-created spread out.
// It returns false once the watcher must exit.
func (r *watchRun) stalled(s *watchStream, phase string) bool {
	r.c.watchStreams.abandon(s)
	_, grace := r.c.watchStreams.intervals()
	r.log.WithField("revision", r.nextRev).WithField("phase", phase).
		Warning("Watch stalled: the etcd watch stream answers other watches but not this one; re-creating it on a new stream")
	return backoff.Sleep(r.ctx, rand.N(grace)) == nil
}

// startWatch opens one watch on s from r.nextRev. It takes a rate-limit
// token like every request, but gives the inflight slot back before the
// creation: clientv3 creates the watches of a stream one at a time, so
// holding a slot while queued there bounds nothing, and a creation that is
// never answered would keep the slot for good, starving every other request
// of the client.
//
// clientv3's Watch returns once the server answered the creation, which
// never happens behind a lost creation in the stream's queue; a guard
// applies the liveness check meanwhile and cancels ctx (cancel) when the
// creation is stalled, and startWatch then returns errWatchStalled.
func (r *watchRun) startWatch(ctx context.Context, cancel context.CancelFunc, s *watchStream) (clientv3.WatchChan, error) {
	cli, err := do(ctx, r.c, request{}, func(cli *clientv3.Client) (*clientv3.Client, error) { return cli, nil })
	if err != nil {
		return nil, wrapOp("watch", r.prefix, err)
	}
	created := make(chan struct{})
	var stalled atomic.Bool
	if !r.c.spawn(func() { r.guardCreate(ctx, cancel, cli, s, created, &stalled) }) {
		return nil, wrapOp("watch", r.prefix, kvstore.ErrClientClosed)
	}
	ch := cli.Watch(s.ctx(ctx), r.prefix, clientv3.WithPrefix(), clientv3.WithRev(r.nextRev))
	close(created)
	if stalled.Load() {
		return nil, wrapOp("watch", r.prefix, errWatchStalled)
	}
	if tracing.Load() {
		Trace("Watch started", nil, logrus.Fields{"prefix": r.prefix, "revision": r.nextRev, "stream": s.gen})
	}
	return ch, nil
}

// guardCreate runs the liveness check while a watch creation is pending
// and cancels it if stalled. It ends when created is closed or ctx ends.
func (r *watchRun) guardCreate(ctx context.Context, cancel context.CancelFunc, cli *clientv3.Client,
	s *watchStream, created <-chan struct{}, stalled *atomic.Bool) {
	l := newLivenessCheck(&r.c.watchStreams, s)
	defer l.stop()
	for {
		select {
		case <-created:
			return
		case <-ctx.Done():
			return
		case <-l.timer.C:
			dead, err := l.expired(ctx, cli)
			if err != nil {
				r.log.WithError(err).Debug("Unable to request watch progress")
			}
			if dead {
				stalled.Store(true)
				cancel()
				return
			}
		}
	}
}

// consume delivers the responses of one watch on s. It returns when the
// channel closes (failed false, err nil), when the watch reports an error
// (failed true, err says why), when the liveness check finds it stalled
// (failed false, err errWatchStalled) or when the watcher must exit.
// progressed says whether the watch delivered anything.
func (r *watchRun) consume(ch clientv3.WatchChan, s *watchStream) (progressed, failed bool, err error) {
	l := newLivenessCheck(&r.c.watchStreams, s)
	defer l.stop()
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
		case <-l.timer.C:
			// A response may be waiting while the timer ran out during a
			// slow emit: it counts before any verdict.
			select {
			case resp, ok = <-ch:
			default:
				dead, err := l.expired(r.ctx, r.c.cli.Load())
				if err != nil && r.ctx.Err() == nil {
					r.log.WithError(err).Debug("Unable to request watch progress")
				}
				if dead {
					return progressed, false, errWatchStalled
				}
				continue
			}
		}
		l.active()
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
			s.progressed()
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
