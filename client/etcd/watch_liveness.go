package etcd

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"
)

// Watch liveness.
//
// clientv3 multiplexes all watches whose ctx carries the same metadata on
// one gRPC stream. After a reconnect it re-creates them one at a time, each
// once the server answered the previous creation. If one creation is never
// answered, every watch queued behind it stays silent for good: its channel
// neither delivers, nor fails, nor closes, and nothing tells the watcher.
// etcd-io/etcd#7290 reports watches silent after a server restart, and the
// clustermesh scale run saw some of ~1,000 watches on one client stay silent
// after a local etcd restart.
//
// The check: a watch that has received nothing for the idle period asks the
// server for progress (RequestProgress; requests are coalesced per stream).
// The server answers with a progress notification to every watch established
// on the stream. If, a grace period later, another watch of the stream got
// an answer but this one did not, the watch may still be queued for its
// resume, so it asks once more; if it misses that answer too, it is not on
// the stream: it is stalled, and is re-created from its next revision (no
// relist) on a fresh stream, so that it does not queue behind the stuck
// creation again. A server that answers nobody is waited for, never
// amplified: nothing is re-created until the stream proves alive. That covers
// a server that is down, and a slow one: etcd drops a progress request while
// any watch of the stream is still catching up or starts beyond the current
// revision (so on a store nobody wrote to since the watches started, nothing
// is answered and nothing is judged).

const (
	// defaultWatchIdle is how long a watch may be quiet before it asks
	// for progress. A quiet prefix costs one request per stream this often.
	defaultWatchIdle = 30 * time.Second
	// defaultWatchGrace is how long the answer to a progress request may
	// take to reach every watch of the stream.
	defaultWatchGrace = 10 * time.Second

	// watchStreamKey is the gRPC metadata key that tells clientv3 to put a
	// watch on another stream than the watches without it (clientv3 keys
	// streams by the outgoing metadata). The server ignores it.
	watchStreamKey = "hivekv-watch-stream"

	// stalledAfterMisses is how many answered progress requests in a row a
	// watch must miss to be stalled.
	stalledAfterMisses = 2
)

// watchStreams hands out the stream new watches of a client go to. The zero
// value is ready: generation 0 is the stream clientv3 would use anyway.
type watchStreams struct {
	mu  sync.Mutex
	cur *watchStream
	gen uint64
	// idle and grace override the defaults (tests); zero means default.
	idle, grace time.Duration

	// For tests: progress requests sent (or attempted) and progress
	// notifications received, over all streams.
	requests, answers atomic.Int64
}

// watchStream is one clientv3 watch stream, and what its watches learnt
// about its liveness.
type watchStream struct {
	gen   uint64
	owner *watchStreams

	mu        sync.Mutex
	requested time.Time // last progress request sent on the stream
	answered  time.Time // last progress notification a watch of it received
}

func (ws *watchStreams) current() *watchStream {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.cur == nil {
		ws.cur = &watchStream{gen: ws.gen, owner: ws}
	}
	return ws.cur
}

// abandon moves the watches created from now on to a fresh stream, if s is
// still the current one: watches that find s stalled at about the same time
// share one new stream instead of opening one each. Watches alive on s stay
// there; clientv3 closes s when its last watch ends.
func (ws *watchStreams) abandon(s *watchStream) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.cur == s {
		ws.gen++
		ws.cur = nil
	}
}

func (ws *watchStreams) intervals() (idle, grace time.Duration) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	idle, grace = ws.idle, ws.grace
	if idle <= 0 {
		idle = defaultWatchIdle
	}
	if grace <= 0 {
		grace = defaultWatchGrace
	}
	return idle, grace
}

// ctx derives the ctx of a watch (or progress request) on s from ctx. The
// watch requires a leader: the server then cancels it when its member loses
// the leader, instead of keeping it open and silent on a partitioned member.
func (s *watchStream) ctx(ctx context.Context) context.Context {
	ctx = clientv3.WithRequireLeader(ctx)
	if s.gen == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, watchStreamKey, strconv.FormatUint(s.gen, 10))
}

// probe asks the server for progress on s unless someone did within every.
// It returns once the request was handed to the stream or after every.
func (s *watchStream) probe(ctx context.Context, cli *clientv3.Client, every time.Duration) error {
	s.mu.Lock()
	if now := time.Now(); now.Sub(s.requested) >= every {
		s.requested = now
	} else {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	s.owner.requests.Add(1)
	pctx, cancel := context.WithTimeout(s.ctx(ctx), every)
	defer cancel()
	return cli.RequestProgress(pctx)
}

// progressed records a progress notification received by a watch of s.
func (s *watchStream) progressed() {
	s.owner.answers.Add(1)
	s.mu.Lock()
	s.answered = time.Now()
	s.mu.Unlock()
}

// answeredSince reports whether a watch of s received a progress
// notification after t.
func (s *watchStream) answeredSince(t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answered.After(t)
}

// spread returns a random duration in [d/2, 3d/2), so that many watches
// started together do not act together.
func spread(d time.Duration) time.Duration {
	return d/2 + rand.N(d)
}

// livenessCheck is the state of one watch's check: it is quiet since last,
// and asked for progress at probedAt (zero while not waiting for an answer).
type livenessCheck struct {
	s           *watchStream
	idle, grace time.Duration
	timer       *time.Timer
	probedAt    time.Time
	misses      int // answered progress requests the watch did not see
}

func newLivenessCheck(ws *watchStreams, s *watchStream) *livenessCheck {
	idle, grace := ws.intervals()
	return &livenessCheck{s: s, idle: idle, grace: grace, timer: time.NewTimer(spread(idle))}
}

func (l *livenessCheck) stop() { l.timer.Stop() }

// active records that the watch received something: it is alive.
func (l *livenessCheck) active() {
	l.probedAt, l.misses = time.Time{}, 0
	l.timer.Reset(spread(l.idle))
}

// expired handles a timer expiry and reports whether the watch is stalled.
// The first expiry asks for progress; the next ones judge. If nobody got an
// answer (the server is down or slow) the check starts over without a
// verdict. If others got one, the watch asks once more before the verdict: a
// watch that was still queued for its resume when the first answer went out
// gets the second one.
func (l *livenessCheck) expired(ctx context.Context, cli *clientv3.Client) (stalled bool, probeErr error) {
	if !l.probedAt.IsZero() {
		if !l.s.answeredSince(l.probedAt) {
			l.active()
			return false, nil
		}
		l.misses++
		if l.misses >= stalledAfterMisses {
			return true, nil
		}
	}
	l.probedAt = time.Now()
	l.timer.Reset(l.grace)
	return false, l.s.probe(ctx, cli, l.grace/2)
}
