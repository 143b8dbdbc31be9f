package etcd_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

// failStatusChecks makes the requests of status checks fail as they do on an
// overloaded server (endpoint probes and the quorum check's lock requests
// time out), while every other request works.
func failStatusChecks() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		overloaded := status.Error(codes.Unavailable, "etcdserver: request timed out")
		switch q := req.(type) {
		case *pb.StatusRequest:
			return overloaded
		case *pb.TxnRequest:
			for _, c := range q.Compare {
				if strings.HasPrefix(string(c.Key), kvstore.InitLockPath) {
					return overloaded
				}
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	})
}

// TestFailingStatusChecksTriggerNoRelist: status checks that fail under load
// fail the status, and nothing else: no relist of a running watch, no new
// watch, no reconnect (no new stream, no new lease).
func TestFailingStatusChecksTriggerNoRelist(t *testing.T) {
	t.Parallel()
	srv := hivetest.SharedServer(t)
	counter := hivetest.NewRequestCounter()
	extra := fastStatusOptions()
	extra.MaxConsecutiveQuorumErrors = 1
	// The counter first: it sees the requests that then fail.
	extra.DialOption = append(extra.DialOption, counter.DialOptions()...)
	extra.DialOption = append(extra.DialOption, failStatusChecks())
	c := newEtcdClient(t, srv.Endpoints(), extra)
	p := hivetest.UniquePrefix(t)
	w := c.ListAndWatch(t.Context(), p, 16)
	t.Cleanup(w.Stop)
	ev := <-w.Events
	require.Equal(t, kvstore.EventTypeListDone, ev.Typ)
	// This watch and the heartbeat watch.
	require.Eventually(t, func() bool { return counter.Counts()[hivetest.KindWatch] == 2 }, 10*time.Second, time.Millisecond)
	before := counter.Counts()

	// Failed checks fail the status.
	select {
	case err := <-c.StatusCheckErrors():
		require.Error(t, err)
	case <-time.After(20 * time.Second):
		t.Fatalf("no status error; status %v", c.Status())
	}
	require.Equal(t, kvstore.StateFailure, c.Status().State)
	// A few more failing rounds.
	for range 3 {
		select {
		case <-c.StatusCheckErrors():
		case <-time.After(20 * time.Second):
			t.Fatalf("no status error; status %v", c.Status())
		}
	}
	after := counter.Counts()
	// The first quorum check's lock grants the lock lease (once); nothing
	// else may be new.
	require.LessOrEqual(t, after[hivetest.KindLeaseGrant], before[hivetest.KindLeaseGrant]+1)
	for _, k := range []hivetest.RequestKind{hivetest.KindList, hivetest.KindWatch, hivetest.KindLeaseKAStreams,
		hivetest.KindWatchCancel} {
		require.Equal(t, before[k], after[k], "%s after failing status checks: before %s, after %s",
			k, hivetest.FormatCounts(before), hivetest.FormatCounts(after))
	}
	require.Greater(t, after[hivetest.KindStatus], before[hivetest.KindStatus], "the checks did run")

	// The watch still delivers.
	raw := srv.Client(t)
	_, err := raw.Put(t.Context(), p+"k", "v")
	require.NoError(t, err)
	select {
	case ev := <-w.Events:
		require.Equal(t, p+"k", ev.Key)
	case <-time.After(20 * time.Second):
		t.Fatal("the watch delivered nothing")
	}
}
