package etcd_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/hivekv/kvstore/hivetest"
)

// stalledKeepAlives holds back the answers to lease keepalives while held,
// as a server too busy to answer in time does; the requests still reach the
// server, which renews the lease.
type stalledKeepAlives struct {
	mu   sync.Mutex
	gate chan struct{} // closed: answers pass
}

func newStalledKeepAlives() *stalledKeepAlives {
	s := &stalledKeepAlives{gate: make(chan struct{})}
	close(s.gate)
	return s
}

func (s *stalledKeepAlives) hold() {
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.mu.Unlock()
}

func (s *stalledKeepAlives) release() {
	s.mu.Lock()
	close(s.gate)
	s.mu.Unlock()
}

func (s *stalledKeepAlives) dialOption() grpc.DialOption {
	return grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
		method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil || method != "/etcdserverpb.Lease/LeaseKeepAlive" {
			return cs, err
		}
		return &stalledStream{ClientStream: cs, s: s}, nil
	})
}

type stalledStream struct {
	grpc.ClientStream
	s *stalledKeepAlives
}

func (st *stalledStream) RecvMsg(m any) error {
	err := st.ClientStream.RecvMsg(m)
	st.s.mu.Lock()
	gate := st.s.gate
	st.s.mu.Unlock()
	select {
	case <-gate:
	case <-st.Context().Done():
	}
	return err
}

// TestSlowKeepAliveIsNoExpiredLease: keepalive answers held back for longer
// than the lease TTL end clientv3's keepalive, but the server renewed the
// lease all along. The client must ask the server before it reports the
// lease lost: no lease-expiry observer call, the key stays on its lease, and
// the lease is kept alive again once answers flow. (Before, every such stall
// reported the lease expired and its keys were re-written on a new lease:
// load amplification when the server is slowest.)
func TestSlowKeepAliveIsNoExpiredLease(t *testing.T) {
	t.Parallel()
	srv := hivetest.SharedServer(t)
	stall := newStalledKeepAlives()
	counter := hivetest.NewRequestCounter()
	extra := fastStatusOptions()
	extra.LeaseTTL = 2 * time.Second
	extra.DialOption = append(extra.DialOption, stall.dialOption())
	extra.DialOption = append(extra.DialOption, counter.DialOptions()...)
	c := newEtcdClient(t, srv.Endpoints(), extra)
	p := hivetest.UniquePrefix(t)
	var (
		mu   sync.Mutex
		lost []string
	)
	c.RegisterLeaseExpiredObserver(p, func(k string) {
		mu.Lock()
		lost = append(lost, k)
		mu.Unlock()
	})
	ctx := t.Context()
	require.NoError(t, c.Update(ctx, p+"k", []byte("v"), true))
	raw := srv.Client(t)
	resp, err := raw.Get(ctx, p+"k")
	require.NoError(t, err)
	lease := resp.Kvs[0].Lease
	require.NotZero(t, lease)

	stall.hold()
	// clientv3 ends the keepalive after a TTL without an answer; the
	// client then asks the server about the lease (TimeToLive) — or, as
	// it did before, reports the lease lost.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return counter.Counts()[hivetest.KindLeaseOther] > 0 || len(lost) > 0
	}, 20*time.Second, 10*time.Millisecond, "the keepalive never ended: %s", hivetest.FormatCounts(counter.Counts()))
	stall.release()

	// The lease lives on: answers flow again, and for longer than its TTL
	// (three keepalive rounds of TTL/3 each after the release).
	sent := counter.Counts()[hivetest.KindLeaseKeepAlive]
	require.Eventually(t, func() bool { return counter.Counts()[hivetest.KindLeaseKeepAlive] >= sent+4 },
		20*time.Second, 10*time.Millisecond)
	ttl, err := raw.TimeToLive(ctx, clientv3.LeaseID(lease))
	require.NoError(t, err)
	require.Positive(t, ttl.TTL, "the lease expired on the server")
	resp, err = raw.Get(ctx, p+"k")
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	require.Equal(t, lease, resp.Kvs[0].Lease, "the key was re-written on another lease")
	mu.Lock()
	require.Empty(t, lost, "a lease reported lost while the server kept it")
	mu.Unlock()
	require.NoError(t, c.Update(ctx, p+"k2", []byte("v"), true))
	resp, err = raw.Get(ctx, p+"k2")
	require.NoError(t, err)
	require.Equal(t, lease, resp.Kvs[0].Lease, "new keys go on the kept lease")
}
