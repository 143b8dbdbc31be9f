package etcd

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/keyset"
	"github.com/hivekv/kvstore/internal/backoff"
)

// ListAndWatch implements kvstore.BackendOperations.
//
// It returns at once; one goroutine per watcher (tracked by c.wg, so Close
// waits for it) does the work in three phases:
//
//  1. wait until the client is connected (if connecting failed for good,
//     Events is closed without any event);
//  2. list the prefix in pages of etcd.limit, every page after the first
//     pinned to the first page's revision, emitting Create per key as each
//     page arrives, then ListDone once (watch_list.go);
//  3. watch from the list revision + 1 (watch_stream.go). A watch whose
//     history was compacted sends the goroutine back to phase 2 for a
//     resync (after a random delay within ExtraOptions.RelistSpread), which
//     reports the keys still present as Modify and synthesises Delete for
//     those that vanished; a watch that ends otherwise (channel closed, lost
//     leader, server error) is re-created from the next revision, with
//     backoff, and so is a watch the liveness check finds stalled
//     (watch_liveness.go: silent while its gRPC stream answers progress
//     requests for other watches), on a fresh gRPC stream.
//
// The goroutine exits, closing Events, when ctx ends, Stop is called or the
// client is closed. List and watch creations go through the rate limiter
// like every other request; failures back off exponentially with jitter.
func (c *etcdClient) ListAndWatch(ctx context.Context, prefix string, chanSize int) *kvstore.Watcher {
	w := kvstore.NewWatcher(prefix, chanSize)
	if c.ctx.Err() != nil {
		// Closed: c.wg may already be waited on, so start nothing.
		w.Finish()
		return w
	}
	r := newWatchRun(c, ctx, w)
	started := c.spawn(r.cancelOnStop, func() {
		defer w.Finish()
		defer r.cancel()
		r.run()
	})
	if !started {
		r.cancel()
		w.Finish()
	}
	return w
}

// watchRun is the state of one ListAndWatch goroutine. Only that goroutine
// touches it, except cancel.
type watchRun struct {
	c      *etcdClient
	w      *kvstore.Watcher
	log    logrus.FieldLogger
	prefix string
	// rangeEnd is the end of the prefix' key range, for the pages after
	// the first.
	rangeEnd string

	// ctx ends with the caller's ctx, with Stop and with Close: every
	// request and wait of the watcher uses it, so any of the three
	// interrupts it promptly.
	ctx    context.Context
	cancel context.CancelFunc

	keys keyset.Set // the keys the consumer was told about

	listed  bool  // ListDone was sent
	nextRev int64 // the revision the next watch starts from

	// Separate schedules: a list that keeps failing must not make the
	// watch wait a minute after the list finally succeeded, and the other
	// way round.
	listRetry  backoff.Backoff
	watchRetry backoff.Backoff
	// failures counts consecutive failed lists and watches, for the log
	// level: the first few are routine (a leader election, a restart).
	failures int
}

func newWatchRun(c *etcdClient, ctx context.Context, w *kvstore.Watcher) *watchRun {
	rctx, cancel := context.WithCancel(ctx)
	// Close cancels c.ctx; the watcher must not outlive the client.
	stop := context.AfterFunc(c.ctx, cancel)
	r := &watchRun{
		c:        c,
		w:        w,
		log:      c.log.WithField("prefix", w.Prefix),
		prefix:   w.Prefix,
		rangeEnd: clientv3.GetPrefixRangeEnd(w.Prefix),
		ctx:      rctx,
		cancel:   func() { stop(); cancel() },
	}
	var scale func(time.Duration) time.Duration
	if c.extra != nil && c.extra.ClusterSizeDependantInterval != nil {
		scale = c.extra.ClusterSizeDependantInterval
	}
	r.listRetry = backoff.Backoff{Min: backoff.DefaultMin, Max: backoff.DefaultMax, Scale: scale}
	r.watchRetry = backoff.Backoff{Min: backoff.DefaultMin, Max: backoff.DefaultMax, Scale: scale}
	return r
}

// cancelOnStop turns Stop into a ctx cancellation, so that a request or a
// backoff in flight ends at once instead of at its own pace.
func (r *watchRun) cancelOnStop() {
	select {
	case <-r.w.Stopping():
		r.cancel()
	case <-r.ctx.Done():
	}
}

// done reports whether the watcher must exit.
func (r *watchRun) done() bool {
	select {
	case <-r.ctx.Done():
		return true
	case <-r.w.Stopping():
		return true
	default:
		return false
	}
}

func (r *watchRun) run() {
	if !r.waitConnected() {
		return
	}
	r.log.Debug("Starting watcher")
	defer r.log.Debug("Stopped watcher")
	for {
		rev, ok := r.list()
		if !ok {
			return
		}
		if !r.listed {
			if !r.emit(kvstore.EventTypeListDone, "", nil) {
				return
			}
			r.listed = true
		}
		r.nextRev = rev + 1
		if !r.watch() {
			return
		}
		// The history was compacted past the watch: relist, after a
		// random share of the relist spread, since every watcher of
		// the fleet was compacted past at the same moment.
		spread := r.c.extra.EffectiveRelistSpread()
		if backoff.Sleep(r.ctx, rand.N(spread)) != nil {
			return
		}
	}
}

// waitConnected waits for the first session. A client that failed to
// connect for good gets no watcher: Events is closed at once.
func (r *watchRun) waitConnected() bool {
	select {
	case <-r.c.firstSession:
	case <-r.ctx.Done():
		return false
	}
	if err := r.c.sessionErr; err != nil {
		r.log.WithError(err).Warning("Not starting the watcher: the client could not connect to etcd")
		return false
	}
	return true
}

// emit hands one event to the consumer, blocking while it is slow. It
// returns false once the watcher must exit.
func (r *watchRun) emit(typ kvstore.EventType, key string, value []byte) bool {
	if tracing.Load() {
		Trace("Emitting watch event", nil, logrus.Fields{"prefix": r.prefix, "type": typ.String(), "key": key, "valueBytes": len(value)})
	}
	return r.w.Emit(r.ctx, kvstore.KeyValueEvent{Typ: typ, Key: key, Value: value})
}
