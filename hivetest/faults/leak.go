package faults

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// goroutines returns the stacks of every goroutine, keyed by id line.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		s := string(g)
		id, _, _ := strings.Cut(s, " [")
		out[id] = s
	}
	return out
}

// serverSide reports whether a goroutine belongs to the embedded etcd
// members (which live across runs and restart during them) rather than to
// the clients under test.
func serverSide(stack string) bool {
	return strings.Contains(stack, "go.etcd.io/etcd/server/") ||
		strings.Contains(stack, "google.golang.org/grpc.(*Server)") ||
		strings.Contains(stack, "google.golang.org/grpc/internal/transport.(*http2Server)") ||
		strings.Contains(stack, "google.golang.org/grpc/internal/transport.NewServerTransport") ||
		strings.Contains(stack, "net/http.(*conn).serve") ||
		strings.Contains(stack, "hivetest/faults.(*Proxy)")
}

// clientSide reports whether a goroutine belongs to a client: our code,
// clientv3, or gRPC's client connection machinery.
func clientSide(stack string) bool {
	for _, mark := range []string{
		"github.com/hivekv/kvstore/client", "github.com/hivekv/kvstore/hivetest/faults.",
		"go.etcd.io/etcd/client/v3",
		"grpc/internal/transport.(*http2Client)", "grpc.(*ClientConn)", "grpc.(*addrConn)",
		"grpc.(*ccBalancerWrapper)", "grpc.(*ccResolverWrapper)", "grpc.(*clientStream)",
	} {
		if strings.Contains(stack, mark) {
			return true
		}
	}
	return false
}

// LeakSnapshot remembers the goroutines running before a run.
type LeakSnapshot map[string]string

// TakeLeakSnapshot records the goroutines running now.
func TakeLeakSnapshot() LeakSnapshot { return goroutines() }

// Check waits until every goroutine started since the snapshot, other than
// the cluster's own, has ended, or ctx ends; then it reports the survivors.
// Call it after every client of the run is closed.
func (s LeakSnapshot) Check(ctx context.Context) error {
	for {
		var leaked []string
		for id, stack := range goroutines() {
			if _, old := s[id]; old || serverSide(stack) || strings.Contains(stack, "faults.goroutines") {
				continue
			}
			if clientSide(stack) {
				leaked = append(leaked, stack)
			}
		}
		if len(leaked) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %d goroutines outlived the run's clients:\n%s", ErrViolation, len(leaked), strings.Join(leaked, "\n\n"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
