package operr

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestWrap(t *testing.T) {
	require.NoError(t, Wrap("get", "k", nil))

	err := Wrap("update", "cilium/x", kvstore.ErrEmptyKey)
	require.EqualError(t, err, `kvstore: update "cilium/x": kvstore: empty key`)
	require.ErrorIs(t, err, kvstore.ErrEmptyKey)
	var opErr *Error
	require.True(t, errors.As(err, &opErr))
	require.Equal(t, "update", opErr.Op)
	require.Equal(t, "cilium/x", opErr.Key)

	timeout := Wrap("get", "k", context.DeadlineExceeded)
	require.ErrorIs(t, timeout, kvstore.ErrClientTimeout, "deadlines are marked with Hint")
	require.ErrorIs(t, timeout, context.DeadlineExceeded)
}
