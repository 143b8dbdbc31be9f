package promise_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hivekv/kvstore/promise"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errBoom = errors.New("boom")

func TestResolveThenAwait(t *testing.T) {
	r, p := promise.New[int]()
	r.Resolve(42)

	v, err := p.Await(context.Background())
	require.NoError(t, err)
	require.Equal(t, 42, v)

	// The result is stable: awaiting again gives the same answer.
	v, err = p.Await(context.Background())
	require.NoError(t, err)
	require.Equal(t, 42, v)
}

func TestAwaitThenResolve(t *testing.T) {
	r, p := promise.New[string]()
	got := make(chan string, 1)
	go func() {
		v, err := p.Await(context.Background())
		if err != nil {
			v = "error: " + err.Error()
		}
		got <- v
	}()
	r.Resolve("hello")
	require.Equal(t, "hello", <-got)
}

func TestReject(t *testing.T) {
	r, p := promise.New[*int]()
	r.Reject(errBoom)

	v, err := p.Await(context.Background())
	require.ErrorIs(t, err, errBoom)
	require.Nil(t, v)
}

func TestRejectNil(t *testing.T) {
	r, p := promise.New[int]()
	r.Reject(nil)

	_, err := p.Await(context.Background())
	require.ErrorIs(t, err, promise.ErrNilRejection)

	_, err = promise.Rejected[int](nil).Await(context.Background())
	require.ErrorIs(t, err, promise.ErrNilRejection)
}

func TestFirstSettlementWins(t *testing.T) {
	tests := []struct {
		name    string
		settle  func(promise.Resolver[int])
		want    int
		wantErr error
	}{
		{
			name: "resolve then reject",
			settle: func(r promise.Resolver[int]) {
				r.Resolve(1)
				r.Reject(errBoom)
			},
			want: 1,
		},
		{
			name: "reject then resolve",
			settle: func(r promise.Resolver[int]) {
				r.Reject(errBoom)
				r.Resolve(1)
			},
			wantErr: errBoom,
		},
		{
			name: "resolve twice",
			settle: func(r promise.Resolver[int]) {
				r.Resolve(1)
				r.Resolve(2)
			},
			want: 1,
		},
		{
			name: "reject twice",
			settle: func(r promise.Resolver[int]) {
				r.Reject(errBoom)
				r.Reject(errors.New("other"))
			},
			wantErr: errBoom,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, p := promise.New[int]()
			tt.settle(r)
			v, err := p.Await(context.Background())
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Zero(t, v)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, v)
		})
	}
}

// Racing settlers must neither block nor panic, and every awaiter must see
// the same single outcome.
func TestConcurrentSettlers(t *testing.T) {
	r, p := promise.New[int]()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				r.Resolve(i)
			} else {
				r.Reject(errors.New(strconv.Itoa(i)))
			}
		}()
	}
	wg.Wait()

	v1, err1 := p.Await(context.Background())
	v2, err2 := p.Await(context.Background())
	require.Equal(t, v1, v2)
	require.Equal(t, err1, err2)
}

func TestConcurrentAwaiters(t *testing.T) {
	const n = 100
	r, p := promise.New[int]()

	var wg sync.WaitGroup
	results := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = p.Await(context.Background())
		}()
	}
	r.Resolve(7)
	wg.Wait()

	for i := range n {
		require.NoError(t, errs[i], "awaiter %d", i)
		require.Equal(t, 7, results[i], "awaiter %d", i)
	}
}

func TestAwaitContextEnds(t *testing.T) {
	t.Run("canceled", func(t *testing.T) {
		r, p := promise.New[int]()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := p.Await(ctx)
			errc <- err
		}()
		cancel()
		require.ErrorIs(t, <-errc, context.Canceled)

		// The promise is still pending and usable after an abandoned Await.
		r.Resolve(3)
		v, err := p.Await(context.Background())
		require.NoError(t, err)
		require.Equal(t, 3, v)
	})

	t.Run("deadline", func(t *testing.T) {
		_, p := promise.New[int]()
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		v, err := p.Await(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Zero(t, v)
	})

	t.Run("settled beats ended ctx", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r, p := promise.New[int]()
		r.Resolve(9)
		// Repeat: a plain two-way select would pick ctx.Done about half
		// the time.
		for range 100 {
			v, err := p.Await(ctx)
			require.NoError(t, err)
			require.Equal(t, 9, v)
		}
	})
}

func TestResolvedAndRejected(t *testing.T) {
	v, err := promise.Resolved("ready").Await(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ready", v)

	_, err = promise.Rejected[string](errBoom).Await(context.Background())
	require.ErrorIs(t, err, errBoom)

	// A pre-settled promise cannot be settled again, even by a caller that
	// digs out its Resolver.
	p := promise.Resolved(1)
	if r, ok := p.(promise.Resolver[int]); ok {
		r.Resolve(2)
		r.Reject(errBoom)
	}
	v2, err := p.Await(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, v2)
}

func TestMap(t *testing.T) {
	t.Run("value", func(t *testing.T) {
		r, p := promise.New[int]()
		m := promise.Map(p, strconv.Itoa)
		r.Resolve(12)
		v, err := m.Await(context.Background())
		require.NoError(t, err)
		require.Equal(t, "12", v)
	})

	t.Run("error passes through, fn not called", func(t *testing.T) {
		r, p := promise.New[int]()
		m := promise.Map(p, func(int) string {
			t.Error("fn called on a rejected promise")
			return ""
		})
		r.Reject(errBoom)
		v, err := m.Await(context.Background())
		require.ErrorIs(t, err, errBoom)
		require.Empty(t, v)
	})

	t.Run("ctx error passes through", func(t *testing.T) {
		_, p := promise.New[int]()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := promise.Map(p, strconv.Itoa).Await(ctx)
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("fn applied per Await", func(t *testing.T) {
		var calls int
		m := promise.Map(promise.Resolved(2), func(v int) int {
			calls++
			return v * 10
		})
		for range 3 {
			v, err := m.Await(context.Background())
			require.NoError(t, err)
			require.Equal(t, 20, v)
		}
		require.Equal(t, 3, calls)
	})

	t.Run("chained", func(t *testing.T) {
		m := promise.Map(promise.Map(promise.Resolved(3), func(v int) int { return v + 1 }), strconv.Itoa)
		v, err := m.Await(context.Background())
		require.NoError(t, err)
		require.Equal(t, "4", v)
	})
}

func BenchmarkAwaitSettled(b *testing.B) {
	r, p := promise.New[int]()
	r.Resolve(1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = p.Await(ctx)
	}
}
