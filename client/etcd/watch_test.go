package etcd_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/etcd"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/hivetest/conformance"
)

// The conformance suite (hivetest/conformance/watch.go) checks ListAndWatch
// on both backends; the tests here cover what only etcd has: pages, revision
// compaction by another client, server restarts, leader loss.

const watchTestWait = 60 * time.Second

// watchTestClient connects an etcd client to endpoints with a high rate
// limit, fast gRPC reconnects and a log hook for assertions on the logs.
func watchTestClient(t *testing.T, endpoints []string, opts map[string]string) (kvstore.BackendOperations, *logtest.Hook) {
	t.Helper()
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	extra := &kvstore.ExtraOptions{
		DialOption:          hivetest.FastReconnectDialOptions(),
		LockLeaseTTL:        5 * time.Second,
		ConnectivityTimeout: 20 * time.Second,
		Logger:              log,
	}
	merged := map[string]string{
		kvstore.EtcdAddrOption:      strings.Join(endpoints, ","),
		kvstore.EtcdRateLimitOption: "10000",
	}
	maps.Copy(merged, opts)
	c, errCh := etcd.New(context.Background(), merged, extra)
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	select {
	case err := <-errCh:
		require.NoError(t, err)
	case <-time.After(watchTestWait):
		t.Fatal("etcd client not connected")
	}
	return c, hook
}

func watchTestCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*watchTestWait)
	t.Cleanup(cancel)
	return ctx
}

// logged reports whether hook saw an entry of the watcher of prefix with
// msg whose error contains errPart.
func logged(hook *logtest.Hook, prefix, msg, errPart string) bool {
	for _, e := range hook.AllEntries() {
		if e.Message != msg || e.Data["prefix"] != prefix {
			continue
		}
		if err, ok := e.Data[logrus.ErrorKey].(error); ok && strings.Contains(err.Error(), errPart) {
			return true
		}
	}
	return false
}

// TestWatchCompactedBetweenListPages stalls the watcher after its first page
// (limit 2, chanSize 1), deletes keys of that page and compacts with a raw
// client. The next page, pinned to the first page's revision, is gone: the
// watcher must list again and delete what it had reported.
func TestWatchCompactedBetweenListPages(t *testing.T) {
	srv := hivetest.SharedServer(t)
	raw := srv.Client(t)
	prefix := hivetest.UniquePrefix(t)
	ctx := watchTestCtx(t)
	for i := range 20 {
		_, err := raw.Put(ctx, fmt.Sprintf("%s%02d", prefix, i), "v0")
		require.NoError(t, err)
	}
	c, hook := watchTestClient(t, srv.Endpoints(), map[string]string{kvstore.EtcdListLimitOption: "2"})
	w := c.ListAndWatch(ctx, prefix, 1)
	require.Eventually(t, func() bool { return len(w.Events) == 1 }, watchTestWait, time.Millisecond)

	for i := range 10 {
		_, err := raw.Delete(ctx, fmt.Sprintf("%s%02d", prefix, i))
		require.NoError(t, err)
	}
	put, err := raw.Put(ctx, prefix+"20", "new")
	require.NoError(t, err)
	_, err = raw.Compact(ctx, put.Header.Revision)
	require.NoError(t, err)

	r := conformance.RecordWatch(t, w)
	r.WaitConverged(t, c, prefix)
	require.Equal(t, 1, r.ListDone())
	// 00 and 01 were on the first page, which the consumer got before the
	// compaction: they need synthesised Deletes.
	require.Equal(t, 1, r.Deletes(prefix+"00"))
	require.Equal(t, 1, r.Deletes(prefix+"01"))
	require.True(t, logged(hook, prefix, "Unable to list the watched prefix, retrying", "compacted"),
		"the pinned page must have hit the compaction")
}

// TestWatchResumesAfterServerRestart stops the server under a running
// watcher and starts it again on the same data: the watcher must resume
// without a second ListDone and deliver what is written afterwards.
func TestWatchResumesAfterServerRestart(t *testing.T) {
	srv := hivetest.StartServer(t)
	c, _ := watchTestClient(t, srv.Endpoints(), nil)
	prefix := hivetest.UniquePrefix(t)
	ctx := watchTestCtx(t)
	for i := range 5 {
		require.NoError(t, c.Update(ctx, fmt.Sprintf("%s%d", prefix, i), []byte("v0"), false))
	}
	r := conformance.RecordWatch(t, c.ListAndWatch(ctx, prefix, 4))
	r.WaitListDone(t)

	require.NoError(t, srv.Stop())
	require.NoError(t, srv.Restart(ctx))

	// Writes right after the restart may meet a connection that is still
	// coming back; they are idempotent, so retrying them is safe.
	retry := func(op func(context.Context) error) {
		require.Eventually(t, func() bool {
			opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return op(opCtx) == nil
		}, watchTestWait, 50*time.Millisecond)
	}
	retry(func(ctx context.Context) error { return c.Delete(ctx, prefix+"0") })
	retry(func(ctx context.Context) error { return c.Update(ctx, prefix+"1", []byte("v1"), false) })
	retry(func(ctx context.Context) error { return c.Update(ctx, prefix+"5", []byte("new"), false) })

	r.WaitConverged(t, c, prefix)
	require.Equal(t, 1, r.ListDone())
	require.Equal(t, 1, r.Deletes(prefix+"0"))
	require.Equal(t, "v1", r.State()[prefix+"1"])
}

// TestWatchSurvivesLeaderLoss takes the quorum away from a 3-member cluster.
// The watch requires a leader, so the server cancels it; the watcher backs
// off until the quorum is back, then resyncs and reports what changed.
func TestWatchSurvivesLeaderLoss(t *testing.T) {
	cluster := hivetest.StartCluster(t, 3)
	c, hook := watchTestClient(t, cluster.Endpoints(), nil)
	prefix := hivetest.UniquePrefix(t)
	ctx := watchTestCtx(t)
	for i := range 5 {
		require.NoError(t, c.Update(ctx, fmt.Sprintf("%s%d", prefix, i), []byte("v0"), false))
	}
	r := conformance.RecordWatch(t, c.ListAndWatch(ctx, prefix, 4))
	r.WaitListDone(t)

	require.NoError(t, cluster.KillMember(1))
	require.NoError(t, cluster.KillMember(2))
	// Depending on the member that carried the watch stream, the watch
	// ends with "no leader" or because its member went away.
	require.Eventually(t, func() bool {
		return logged(hook, prefix, "Unable to watch the watched prefix, retrying", "")
	}, watchTestWait, 20*time.Millisecond, "the watch must notice that the quorum is gone")

	require.NoError(t, cluster.RestartMember(ctx, 1))
	require.NoError(t, cluster.RestartMember(ctx, 2))
	raw := cluster.Client(t)
	require.Eventually(t, func() bool {
		opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := raw.Delete(opCtx, prefix+"0")
		return err == nil
	}, watchTestWait, 50*time.Millisecond)
	_, err := raw.Put(ctx, prefix+"5", "new")
	require.NoError(t, err)

	r.WaitConverged(t, c, prefix)
	require.Equal(t, 1, r.ListDone())
	require.Equal(t, 1, r.Deletes(prefix+"0"))
}

// TestWatchOnFailedClientClosesEvents: a client that never connected gets
// watchers that end at once, without events.
func TestWatchOnFailedClientClosesEvents(t *testing.T) {
	extra := &kvstore.ExtraOptions{ConnectivityTimeout: 200 * time.Millisecond}
	c, errCh := etcd.New(context.Background(), map[string]string{kvstore.EtcdAddrOption: "http://127.0.0.1:1"}, extra)
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	require.Error(t, <-errCh)

	w := c.ListAndWatch(context.Background(), "x/", 4)
	select {
	case ev, ok := <-w.Events:
		require.False(t, ok, "unexpected event %+v", ev)
	case <-time.After(watchTestWait):
		t.Fatal("Events not closed")
	}
	w.Stop()
}

// TestWatchStopInterruptsRateLimiterWait: a watcher queued far behind in the
// rate limiter must stop at once, not when its turn comes.
func TestWatchStopInterruptsRateLimiterWait(t *testing.T) {
	srv := hivetest.SharedServer(t)
	c, _ := watchTestClient(t, srv.Endpoints(), map[string]string{kvstore.EtcdRateLimitOption: "1"})
	prefix := hivetest.UniquePrefix(t)

	// Queue up a minute of requests ahead of the watcher.
	queued, cancelQueued := context.WithCancel(context.Background())
	defer cancelQueued()
	for range 60 {
		go func() { _, _ = c.Get(queued, prefix+"k") }()
	}
	require.Eventually(t, func() bool {
		st, ok := etcd.LimiterStats(c)
		return ok && st.Waits >= 50
	}, watchTestWait, time.Millisecond)

	w := c.ListAndWatch(context.Background(), prefix, 1)
	stopped := make(chan struct{})
	go func() {
		w.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(watchTestWait / 2):
		t.Fatal("Stop waited for the rate limiter")
	}
	_, ok := <-w.Events
	require.False(t, ok)
}

// TestWatchRawCompare cross-checks the watcher against a raw clientv3 watch
// of the same prefix: both must deliver the same puts and deletes.
func TestWatchRawCompare(t *testing.T) {
	srv := hivetest.SharedServer(t)
	raw := srv.Client(t)
	prefix := hivetest.UniquePrefix(t)
	ctx := watchTestCtx(t)
	c, _ := watchTestClient(t, srv.Endpoints(), nil)
	r := conformance.RecordWatch(t, c.ListAndWatch(ctx, prefix, 0))
	r.WaitListDone(t)
	rawCh := raw.Watch(ctx, prefix, clientv3.WithPrefix())

	// Deleting a missing key is no change: etcd sends no event for it.
	changes, exists := 0, map[string]bool{}
	for i := range 100 {
		k := fmt.Sprintf("%s%d", prefix, i%10)
		if i%7 == 6 {
			_, err := raw.Delete(ctx, k)
			require.NoError(t, err)
			if exists[k] {
				changes++
			}
			exists[k] = false
			continue
		}
		_, err := raw.Put(ctx, k, fmt.Sprint(i))
		require.NoError(t, err)
		exists[k] = true
		changes++
	}
	var rawEvents int
	for rawEvents < changes {
		select {
		case resp := <-rawCh:
			require.NoError(t, resp.Err())
			rawEvents += len(resp.Events)
		case <-time.After(watchTestWait):
			t.Fatal("raw watch stalled")
		}
	}
	r.WaitConverged(t, c, prefix)
	ours := r.Count(kvstore.EventTypeCreate) + r.Count(kvstore.EventTypeModify) + r.Count(kvstore.EventTypeDelete)
	require.Equal(t, rawEvents, ours, "one event per change, as the raw watch")
}
