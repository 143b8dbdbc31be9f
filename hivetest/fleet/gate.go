package fleet

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// watchGate cuts the agents' watch streams on demand, as a network fault
// between the agents and etcd would, while their other requests go on: with
// the gate closed, every watch stream fails with Unavailable (clientv3 then
// reconnects it and resumes each watch from its revision) and new watch
// streams wait until the gate opens. The scenario uses it to fall every
// watcher behind, then compacts past them all.
type watchGate struct {
	mu      sync.Mutex
	open    chan struct{} // closed while the gate is open
	cancels map[*gatedStream]context.CancelFunc
}

func newWatchGate() *watchGate {
	g := &watchGate{open: make(chan struct{}), cancels: map[*gatedStream]context.CancelFunc{}}
	close(g.open)
	return g
}

// cut fails every open watch stream and holds new ones back.
func (g *watchGate) cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
	for s, cancel := range g.cancels {
		s.cut = true
		cancel()
		delete(g.cancels, s)
	}
}

// restore lets watch streams through again.
func (g *watchGate) restore() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *watchGate) dialOption() grpc.DialOption {
	return grpc.WithChainStreamInterceptor(g.stream)
}

func (g *watchGate) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if method != "/etcdserverpb.Watch/Watch" {
		return streamer(ctx, desc, cc, method, opts...)
	}
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	sctx, cancel := context.WithCancel(ctx)
	cs, err := streamer(sctx, desc, cc, method, opts...)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &gatedStream{ClientStream: cs, g: g}
	g.mu.Lock()
	g.cancels[s] = cancel
	g.mu.Unlock()
	return s, nil
}

// gatedStream turns the cancellation by cut into Unavailable: the code of a
// lost connection, on which clientv3 resumes its watches.
type gatedStream struct {
	grpc.ClientStream
	g   *watchGate
	cut bool // under g.mu
}

func (s *gatedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil {
		return nil
	}
	s.g.mu.Lock()
	cut := s.cut
	if cancel, ok := s.g.cancels[s]; ok {
		cancel()
		delete(s.g.cancels, s)
	}
	s.g.mu.Unlock()
	if cut {
		return status.Error(codes.Unavailable, "fleet: watch stream cut")
	}
	return err
}
