package backoff

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func fixed(v float64) func() float64 { return func() float64 { return v } }

func TestScheduleDoublesUpToMax(t *testing.T) {
	// Rand 0.5 puts every wait in the middle of its jitter window: the
	// base itself.
	b := Backoff{Min: 50 * time.Millisecond, Max: time.Minute, Rand: fixed(0.5)}
	want := []time.Duration{50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000}
	for i, w := range want {
		require.Equal(t, w*time.Millisecond, b.Next(), "attempt %d", i)
	}
	require.Equal(t, len(want), b.Attempt())
	for range 100 {
		require.Equal(t, time.Minute, b.Next(), "the base must stay capped, not overflow")
	}
	b.Reset()
	require.Equal(t, 50*time.Millisecond, b.Next())
}

func TestJitterStaysWithinBounds(t *testing.T) {
	b := Backoff{Min: 50 * time.Millisecond, Max: time.Minute}
	seen := map[time.Duration]bool{}
	for i := range 200 {
		if i%20 == 0 {
			b.Reset()
		}
		d := b.Next()
		require.GreaterOrEqual(t, d, 50*time.Millisecond)
		require.LessOrEqual(t, d, time.Minute)
		seen[d] = true
	}
	require.Greater(t, len(seen), 20, "waits must be jittered, not identical")

	low := Backoff{Min: time.Second, Max: 10 * time.Second, Rand: fixed(0)}
	high := Backoff{Min: time.Second, Max: 10 * time.Second, Rand: fixed(0.999999)}
	low.Next()
	high.Next()
	require.Equal(t, 1500*time.Millisecond, low.Next(), "lower edge: 0.75 of the base")
	require.InDelta(t, float64(2500*time.Millisecond), float64(high.Next()), float64(time.Millisecond), "upper edge: 1.25 of the base")
}

func TestDefaultsAndScale(t *testing.T) {
	var b Backoff
	b.Rand = fixed(0.5)
	require.Equal(t, DefaultMin, b.Next())
	for range 40 {
		b.Next()
	}
	require.Equal(t, DefaultMax, b.Next())

	s := Backoff{Rand: fixed(0.5), Scale: func(d time.Duration) time.Duration { return 3 * d }}
	require.Equal(t, 150*time.Millisecond, s.Next())
	require.Equal(t, 300*time.Millisecond, s.Next())
	require.Equal(t, 5*time.Second, s.Jitter(5*time.Second), "Jitter does not scale")
	require.Equal(t, 2, s.Attempt(), "Jitter does not advance the schedule")
}

func TestWaitHonoursCtx(t *testing.T) {
	b := Backoff{Min: time.Hour, Max: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.Wait(ctx)
	require.ErrorIs(t, err, context.Canceled)

	short := Backoff{Min: time.Millisecond, Max: time.Millisecond}
	require.NoError(t, short.Wait(context.Background()))
	require.False(t, errors.Is(Sleep(context.Background(), 0), context.Canceled))
}

func TestDelayIsNextWithoutState(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: time.Second, Rand: fixed(0.5)}
	for n := range 12 {
		require.Equal(t, b.Delay(n), b.Next(), "failure %d", n)
	}
	require.Equal(t, 10*time.Millisecond, b.Delay(0), "Delay does not advance the schedule")
	require.Equal(t, time.Second, b.Delay(1000), "a large count stays capped")
}
