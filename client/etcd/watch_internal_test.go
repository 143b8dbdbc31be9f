package etcd

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hivekv/kvstore"
)

func TestOverloadedErrors(t *testing.T) {
	for _, err := range []error{
		rpctypes.ErrTooManyRequests,
		rpctypes.ErrGRPCRequestTooManyRequests,
		rpctypes.ErrNoLeader,
		rpctypes.ErrGRPCNoLeader,
		status.Error(codes.ResourceExhausted, "slow down"),
		wrapOp("list", "p/", kvstore.Hint(fmt.Errorf("page: %w", rpctypes.ErrTooManyRequests))),
		fmt.Errorf("watching from revision 3: %w", errors.New("etcdserver: no leader")),
	} {
		require.True(t, overloaded(err), "%v", err)
	}
	for _, err := range []error{
		rpctypes.ErrCompacted,
		status.Error(codes.Unavailable, "connection refused"),
		errors.New("boom"),
	} {
		require.False(t, overloaded(err), "%v", err)
	}
}
