package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBurstPassesThenBucketDelays(t *testing.T) {
	l := New(10, 0)
	require.Equal(t, 10, l.Burst())
	require.Equal(t, 10, l.MaxInflight(), "maxInflight 0 means qps")
	for range 10 {
		require.NoError(t, l.Acquire(context.Background()))
		l.Release()
	}
	require.Zero(t, l.Stats().Waits, "the burst must pass without waiting")

	// The bucket is empty: the next request is held back by about 1/qps.
	require.NoError(t, l.Acquire(context.Background()))
	l.Release()
	st := l.Stats()
	require.EqualValues(t, 11, st.Acquires)
	require.EqualValues(t, 1, st.Waits)
	require.Greater(t, st.MaxWait, 50*time.Millisecond)
	require.Equal(t, st.MaxWait, st.Waited)
}

func TestAcquireHonoursCtx(t *testing.T) {
	l := New(1, 1)
	require.NoError(t, l.Acquire(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// No token and no free slot: both waits must give up on ctx.
	require.ErrorIs(t, l.Acquire(ctx), context.Canceled)
	require.Equal(t, 1, l.Inflight(), "a failed Acquire holds nothing")
	l.Release()
	require.Zero(t, l.Inflight())
	require.EqualValues(t, 1, l.Stats().Acquires)
}

func TestInflightBound(t *testing.T) {
	l := New(1000, 2)
	require.NoError(t, l.Acquire(context.Background()))
	require.NoError(t, l.Acquire(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, l.Acquire(ctx), context.DeadlineExceeded, "a third concurrent request must wait for a slot")
	l.Release()
	require.NoError(t, l.Acquire(context.Background()))
	l.Release()
	l.Release()
}

func TestSetQPSAndNil(t *testing.T) {
	l := New(5, 0)
	require.InDelta(t, 5, l.QPS(), 0)
	l.SetQPS(50)
	require.InDelta(t, 50, l.QPS(), 0)
	require.Equal(t, 5, l.Burst(), "the burst stays as created")

	var n *Limiter
	require.NoError(t, n.Acquire(context.Background()))
	n.Release()
	n.SetQPS(3)
	require.Zero(t, n.QPS())
	require.Zero(t, n.Burst())
	require.Zero(t, n.MaxInflight())
	require.Zero(t, n.Inflight())
	require.Equal(t, Stats{}, n.Stats())
}
