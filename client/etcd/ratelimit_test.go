package etcd_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/etcd"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/hivetest/conformance"
)

// TestRateLimitBurstOfGets: with etcd.qps=50 (burst 50) a burst of 200 Gets
// must be spread over 3 s by the token bucket: the last of them waits about
// (200-50)/50 s. The assertion reads the limiter's own account of the
// delays it imposed, not the wall clock.
func TestRateLimitBurstOfGets(t *testing.T) {
	srv := hivetest.SharedServer(t)
	c, _ := watchTestClient(t, srv.Endpoints(), map[string]string{kvstore.EtcdRateLimitOption: "50"})
	prefix := hivetest.UniquePrefix(t)
	before, ok := etcd.LimiterStats(c)
	require.True(t, ok)
	require.InDelta(t, 50, before.QPS, 0)
	require.Equal(t, 50, before.Burst)
	require.Equal(t, 50, before.MaxInflight, "maxInflight 0 means qps")

	ctx := watchTestCtx(t)
	start := make(chan struct{})
	errs := make(chan error, 200)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := c.Get(ctx, fmt.Sprintf("%s%d", prefix, i))
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	after, _ := etcd.LimiterStats(c)
	require.GreaterOrEqual(t, after.Requests-before.Requests, int64(200))
	require.GreaterOrEqual(t, after.Waits-before.Waits, int64(140), "the requests beyond the burst must wait")
	// 150 requests beyond the burst at 50/s: the last one is held back
	// 3 s, minus the time the goroutines took to line up (a few ms; the
	// margin covers a loaded machine). At 60/s it would be 2.5 s.
	require.GreaterOrEqual(t, after.MaxWait, 2800*time.Millisecond)
	require.Zero(t, after.Inflight)
}

// TestRateLimitBootstrapSwitch: etcd.bootstrapQps is in force until
// BootstrapComplete is closed, then etcd.qps; burst and inflight bound follow
// etcd.qps throughout.
func TestRateLimitBootstrapSwitch(t *testing.T) {
	srv := hivetest.SharedServer(t)
	bootstrap := make(chan struct{})
	extra := &kvstore.ExtraOptions{BootstrapComplete: bootstrap, DialOption: hivetest.FastReconnectDialOptions()}
	c, errCh := etcd.New(context.Background(), map[string]string{
		kvstore.EtcdAddrOption:               srv.Endpoint(),
		kvstore.EtcdRateLimitOption:          "100",
		kvstore.EtcdBootstrapRateLimitOption: "5",
	}, extra)
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	require.NoError(t, <-errCh)

	st, ok := etcd.LimiterStats(c)
	require.True(t, ok)
	require.InDelta(t, 5, st.QPS, 0, "bootstrap rate until BootstrapComplete closes")
	require.Equal(t, 100, st.Burst)
	require.Equal(t, 100, st.MaxInflight)

	close(bootstrap)
	require.Eventually(t, func() bool {
		st, _ := etcd.LimiterStats(c)
		return st.QPS == 100
	}, watchTestWait, time.Millisecond)
	st, _ = etcd.LimiterStats(c)
	require.Equal(t, 100, st.Burst)

	// Without BootstrapComplete there is no bootstrap phase.
	c2, _ := watchTestClient(t, srv.Endpoints(), map[string]string{
		kvstore.EtcdRateLimitOption:          "30",
		kvstore.EtcdBootstrapRateLimitOption: "5",
		kvstore.EtcdMaxInflightOption:        "7",
	})
	st, _ = etcd.LimiterStats(c2)
	require.InDelta(t, 30, st.QPS, 0)
	require.Equal(t, 7, st.MaxInflight)
}

// TestRateLimitListPagesAndWatchCreation: every page of a ListAndWatch list
// and the creation of its watch pass through the limiter.
func TestRateLimitListPagesAndWatchCreation(t *testing.T) {
	srv := hivetest.SharedServer(t)
	prefix := hivetest.UniquePrefix(t)
	raw := srv.Client(t)
	ctx := watchTestCtx(t)
	for i := range 10 {
		_, err := raw.Put(ctx, fmt.Sprintf("%s%d", prefix, i), "v")
		require.NoError(t, err)
	}
	c, _ := watchTestClient(t, srv.Endpoints(), map[string]string{kvstore.EtcdListLimitOption: "2"})
	before, _ := etcd.LimiterStats(c)
	r := conformance.RecordWatch(t, c.ListAndWatch(ctx, prefix, 16))
	r.WaitListDone(t)
	// 10 keys in pages of 2 are 5 requests, plus the watch.
	require.Eventually(t, func() bool {
		after, _ := etcd.LimiterStats(c)
		return after.Requests-before.Requests >= 6
	}, watchTestWait, time.Millisecond)
	require.Equal(t, 10, r.Count(kvstore.EventTypeCreate))
}

// TestRateLimitInvalidOptionsRejected: NewClient refuses bad limiter
// options before creating anything, naming the option.
func TestRateLimitInvalidOptionsRejected(t *testing.T) {
	bad := map[string]string{
		kvstore.EtcdRateLimitOption:          "0",
		kvstore.EtcdBootstrapRateLimitOption: "-1",
		kvstore.EtcdMaxInflightOption:        "-3",
		kvstore.EtcdListLimitOption:          "-1",
	}
	for key, value := range bad {
		for _, v := range []string{value, "ten", "1.5", ""} {
			t.Run(key+"="+v, func(t *testing.T) {
				c, errCh := etcd.New(context.Background(), map[string]string{kvstore.EtcdAddrOption: "http://127.0.0.1:1", key: v}, nil)
				require.Nil(t, c)
				err := <-errCh
				require.ErrorIs(t, err, kvstore.ErrInvalidOption)
				require.ErrorContains(t, err, key)
			})
		}
	}
	c, errCh := etcd.New(context.Background(), map[string]string{
		kvstore.EtcdAddrOption: "http://127.0.0.1:1", kvstore.EtcdRateLimitOption: "-5",
	}, nil)
	require.Nil(t, c)
	require.ErrorIs(t, <-errCh, kvstore.ErrInvalidOption)

	// Zero means "default" for these and is valid.
	ok, errCh := etcd.New(context.Background(), map[string]string{
		kvstore.EtcdAddrOption:               hivetest.SharedServer(t).Endpoint(),
		kvstore.EtcdBootstrapRateLimitOption: "0",
		kvstore.EtcdMaxInflightOption:        "0",
		kvstore.EtcdListLimitOption:          "0",
	}, nil)
	require.NotNil(t, ok)
	t.Cleanup(ok.Close)
	require.NoError(t, <-errCh)
	st, _ := etcd.LimiterStats(ok)
	require.InDelta(t, kvstore.DefaultQPS, st.QPS, 0)

	_, isEtcd := etcd.LimiterStats(conformance.InMemoryBackend().New(t, nil, nil))
	require.False(t, isEtcd, "the in-memory backend has no limiter")
}
