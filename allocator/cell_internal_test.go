package allocator

import (
	"context"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/memory"
	"github.com/hivekv/kvstore/internal/modhealth"
	"github.com/hivekv/kvstore/promise"
)

// Issue 23.13: a stop that gives up waiting (its ctx ended) while run is
// creating the Allocator still gets that Allocator closed: run closes what
// it creates after its ctx ended. (An Allocator left open would keep its
// goroutines, which the package's TestMain reports.)
func TestStopClosesAnAllocatorCreatedDuringStop(t *testing.T) {
	c := memory.NewStore().NewClient(nil)
	t.Cleanup(c.Close)
	clientResolver, client := promise.New[kvstore.BackendOperations]()
	clientResolver.Resolve(c)
	resolver, prom := promise.New[*Allocator]()
	creating, stopped := make(chan struct{}), make(chan struct{})
	var created *Allocator
	s := &starter{
		cfg:    Config{AllocatorBasePath: "ids", AllocatorNodeName: "n"},
		opts:   []Option{WithMin(1), WithMax(10)},
		client: client, resolver: resolver, log: quietLog(),
		health: newCellHealth(modhealth.New(nil, "allocator")),
		newAllocator: func(b Backend, opts ...Option) (*Allocator, error) {
			close(creating)
			<-stopped // the stop has given up waiting
			a, err := NewAllocator(b, opts...)
			created = a
			return a, err
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.run(ctx) }()
	<-creating
	cancel() // stop: the work's ctx ends
	close(stopped)
	<-done
	require.NotNil(t, created)
	require.True(t, created.closed.Load(), "the Allocator created after stop is closed")
	_, err := prom.Await(context.Background())
	require.ErrorIs(t, err, ErrClosed)
}

func quietLog() *logrus.Logger {
	l := logrus.New()
	l.SetLevel(logrus.WarnLevel)
	return l
}
