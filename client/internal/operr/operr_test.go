package operr

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestWrap(t *testing.T) {
	require.NoError(t, Wrap("get", "k", nil))

	err := Wrap("update", "cilium/x", kvstore.ErrEmptyKey)
	require.EqualError(t, err, `kvstore: update "cilium/x": empty key`, "one kvstore: prefix")
	require.ErrorIs(t, err, kvstore.ErrEmptyKey)
	var opErr *kvstore.OpError
	require.True(t, errors.As(err, &opErr))
	require.Equal(t, "update", opErr.Op)
	require.Equal(t, "cilium/x", opErr.Key)

	timeout := Wrap("get", "k", context.DeadlineExceeded)
	require.ErrorIs(t, timeout, kvstore.ErrClientTimeout, "deadlines are marked with Hint")
	require.ErrorIs(t, timeout, context.DeadlineExceeded)
}

func TestWrapLeavesLockLeaseExpiredBare(t *testing.T) {
	err := Wrap("update-if-locked", "k", kvstore.ErrLockLeaseExpired)
	require.True(t, err == kvstore.ErrLockLeaseExpired, "got %v", err)

	// Wrapped in more context it is a cause like any other.
	inner := fmt.Errorf("lock key gone: %w", kvstore.ErrLockLeaseExpired)
	err = Wrap("lock", "p", inner)
	require.ErrorIs(t, err, kvstore.ErrLockLeaseExpired)
	require.IsType(t, &kvstore.OpError{}, err)
}
