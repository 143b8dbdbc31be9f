package hivetest

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errMemberStopping is what clients see for calls cut short by Stop or Kill.
// Unavailable is the code a real crash produces, so clientv3 reacts the same
// way: watches and lease keep-alives reconnect instead of giving up.
var errMemberStopping = status.Error(codes.Unavailable, "hivetest: etcd member is stopping")

// callTracker ends in-flight client RPCs when a member stops.
//
// embed.Etcd.Close shuts the gRPC server down gracefully and waits for open
// calls for up to etcd's request timeout (about 7 s). Watches and lease
// keep-alives never finish on their own, so without this every Stop of a
// member with a watching client would take that long. Installed as the
// innermost interceptor, the tracker cancels each handler's context and
// reports Unavailable, so Close completes at once.
type callTracker struct {
	mu       sync.Mutex
	stopping bool
	next     uint64
	cancels  map[uint64]context.CancelFunc
}

func newCallTracker() *callTracker {
	return &callTracker{cancels: make(map[uint64]context.CancelFunc)}
}

// serverOptions returns the gRPC options that install the tracker.
func (t *callTracker) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(t.unary),
		grpc.ChainStreamInterceptor(t.stream),
	}
}

// begin registers a call; ok is false once the member is stopping.
func (t *callTracker) begin(parent context.Context) (ctx context.Context, end func(), ok bool) {
	ctx, cancel := context.WithCancel(parent)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopping {
		cancel()
		return nil, nil, false
	}
	id := t.next
	t.next++
	t.cancels[id] = cancel
	return ctx, func() {
		t.mu.Lock()
		delete(t.cancels, id)
		t.mu.Unlock()
		cancel()
	}, true
}

// stop cancels every call in flight and refuses new ones.
func (t *callTracker) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopping = true
	for id, cancel := range t.cancels {
		cancel()
		delete(t.cancels, id)
	}
}

// interrupted reports whether ctx ended because of stop, as opposed to the
// client going away.
func (t *callTracker) interrupted(ctx context.Context) bool {
	if ctx.Err() == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stopping
}

func (t *callTracker) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	cctx, end, ok := t.begin(ctx)
	if !ok {
		return nil, errMemberStopping
	}
	defer end()
	resp, err := handler(cctx, req)
	if err != nil && t.interrupted(cctx) {
		return nil, errMemberStopping
	}
	return resp, err
}

func (t *callTracker) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	cctx, end, ok := t.begin(ss.Context())
	if !ok {
		return errMemberStopping
	}
	defer end()
	err := handler(srv, &trackedStream{ServerStream: ss, ctx: cctx})
	if t.interrupted(cctx) {
		return errMemberStopping
	}
	return err
}

// trackedStream hands the handler a context that stop can cancel.
type trackedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *trackedStream) Context() context.Context { return s.ctx }
