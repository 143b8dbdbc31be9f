package pathlock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHoldsAndBeginUnlock(t *testing.T) {
	tb := New()
	defer tb.Close()
	now := time.Now()
	tb.SetClock(func() time.Time { return now })

	old, err := tb.Lock(context.Background(), "p")
	require.NoError(t, err)
	require.True(t, tb.Holds("p", old))

	// A collected owner holds nothing and cannot begin an unlock.
	now = now.Add(time.Hour)
	require.Len(t, tb.GC(time.Minute), 1)
	require.False(t, tb.Holds("p", old))
	require.False(t, tb.BeginUnlock("p", old))

	cur, err := tb.Lock(context.Background(), "p")
	require.NoError(t, err)
	require.False(t, tb.Holds("p", old))
	require.True(t, tb.Holds("p", cur))

	// Once an unlock began, the GC leaves the entry alone however old.
	require.True(t, tb.BeginUnlock("p", cur))
	now = now.Add(time.Hour)
	require.Empty(t, tb.GC(time.Minute))
	require.True(t, tb.Holds("p", cur))
	require.True(t, tb.Unlock("p", cur))
	require.False(t, tb.Holds("p", cur))
	require.Zero(t, tb.Held())
}
