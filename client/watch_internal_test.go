package client

import (
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hivekv/kvstore"
)

func TestKeySetGenerations(t *testing.T) {
	s := newKeySet()
	s.startList()
	require.False(t, s.see("a"), "first sight: Create")
	require.False(t, s.see("b"))
	require.True(t, s.see("a"), "second sight: Modify")
	require.True(t, s.sweep(func(string) bool { t.Fatal("nothing vanished"); return true }))

	// A watch event adds c; then a resync sees only b and d.
	require.False(t, s.see("c"))
	s.startList()
	require.True(t, s.see("b"))
	require.False(t, s.see("d"))
	var gone []string
	require.True(t, s.sweep(func(k string) bool { gone = append(gone, k); return true }))
	sort.Strings(gone)
	require.Equal(t, []string{"a", "c"}, gone)
	require.Equal(t, 2, s.len())
	require.True(t, s.remove("b"))
	require.False(t, s.remove("b"))
	require.Equal(t, 1, s.len())

	// A sweep stops when told to, keeping what it did not visit.
	s.startList()
	calls := 0
	require.False(t, s.sweep(func(string) bool { calls++; return false }))
	require.Equal(t, 1, calls)
}

func TestKeySetSweepCountsStaleKeys(t *testing.T) {
	s := newKeySet()
	s.reserve(3)
	s.startList()
	for _, k := range []string{"a", "b", "c"} {
		s.see(k)
	}
	require.Zero(t, s.stale, "a first list leaves nothing stale")

	// A resync that sees every key again finds nothing to delete.
	s.startList()
	require.Equal(t, 3, s.stale)
	s.see("c")
	s.see("a")
	s.see("b")
	require.True(t, s.sweep(func(k string) bool { t.Fatalf("%s did not vanish", k); return true }))

	// A key removed by a watch event during a resync is no longer stale,
	// and the one the list did not return is swept.
	s.startList()
	s.see("a")
	require.True(t, s.remove("b"))
	require.Equal(t, 1, s.stale)
	var gone []string
	require.True(t, s.sweep(func(k string) bool { gone = append(gone, k); return true }))
	require.Equal(t, []string{"c"}, gone)
}

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
