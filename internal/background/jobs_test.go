package background

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

func TestStopCancelsAndWaits(t *testing.T) {
	var j Jobs
	var ran atomic.Int32
	j.Start(
		func(ctx context.Context) { <-ctx.Done(); ran.Add(1) },
		func(ctx context.Context) { <-ctx.Done(); ran.Add(1) },
	)
	require.NoError(t, j.Stop(t.Context(), "test jobs"))
	require.Equal(t, int32(2), ran.Load(), "Stop returned before every job did")
}

func TestStopWithoutStart(t *testing.T) {
	var j Jobs
	require.NoError(t, j.Stop(t.Context(), "nothing"))
}

func TestStopBoundedByItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var j Jobs
		release := make(chan struct{})
		j.Start(func(context.Context) { <-release }) // ignores its ctx
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := j.Stop(ctx, "the stubborn job")
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorContains(t, err, "waiting for the stubborn job to stop")
		close(release)
	})
}
