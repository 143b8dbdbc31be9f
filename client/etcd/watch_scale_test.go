package etcd_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/etcd"
	"github.com/hivekv/kvstore/hivetest"
)

// createSwallower loses one watch creation request on the wire once armed:
// the n-th creation sent after arming never reaches the server, so it is
// never answered. clientv3 resumes the watches of a gRPC stream one at a
// time, each after the previous one's creation was answered, so every watch
// queued behind the lost one stays silent: no error, no event, no close.
type createSwallower struct {
	armed atomic.Bool
	n     atomic.Int64 // the creation to lose, counted from arming
	seen  atomic.Int64
	lost  atomic.Bool
	only  string // if set, only creations of keys with this prefix count
}

func (s *createSwallower) arm(n int64) {
	s.seen.Store(0)
	s.n.Store(n)
	s.armed.Store(true)
}

func (s *createSwallower) dialOption() grpc.DialOption {
	return grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
		method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil || method != "/etcdserverpb.Watch/Watch" {
			return cs, err
		}
		return &swallowingStream{ClientStream: cs, s: s}, nil
	})
}

type swallowingStream struct {
	grpc.ClientStream
	s *createSwallower
}

func (ss *swallowingStream) SendMsg(m any) error {
	if req, ok := m.(*pb.WatchRequest); ok && req.GetCreateRequest() != nil && ss.s.armed.Load() &&
		strings.HasPrefix(string(req.GetCreateRequest().Key), ss.s.only) {
		if ss.s.seen.Add(1) == ss.s.n.Load() {
			ss.s.armed.Store(false)
			ss.s.lost.Store(true)
			return nil
		}
	}
	return ss.ClientStream.SendMsg(m)
}

// TestManyWatchesConvergeAfterServerKill runs many watchers on one client
// (one gRPC watch stream) and kills the single member while writes go on.
// On the reconnect, one watch creation is lost on the wire halfway through
// clientv3's resume queue, which leaves every watch queued behind it silent
// (the failure the clustermesh scale run showed with ~1,000 watches on one
// client). After the restart one new key is written under every prefix: every
// watcher must deliver it, the silent ones included.
func TestManyWatchesConvergeAfterServerKill(t *testing.T) {
	const watchers = 300
	srv := hivetest.StartServer(t)
	swallow := &createSwallower{}
	c, hook := livenessTestClient(t, srv, 500*time.Millisecond, swallow.dialOption())

	raw := srv.Client(t)
	ctx := watchTestCtx(t)
	base := hivetest.UniquePrefix(t)
	prefix := func(i int) string { return fmt.Sprintf("%s%04d/", base, i) }

	var (
		mu    sync.Mutex
		final = make(map[int]bool, watchers)
	)
	var listed atomic.Int64
	for i := range watchers {
		w := c.ListAndWatch(ctx, prefix(i), 1)
		t.Cleanup(w.Stop)
		go func() {
			for ev := range w.Events {
				switch {
				case ev.Typ == kvstore.EventTypeListDone:
					listed.Add(1)
				case ev.Key == prefix(i)+"final" && ev.Typ != kvstore.EventTypeDelete:
					mu.Lock()
					final[i] = true
					mu.Unlock()
				}
			}
		}()
	}
	require.Eventually(t, func() bool { return listed.Load() == watchers }, watchTestWait, 10*time.Millisecond)

	// Writes under random prefixes before, during and after the kill.
	writing, stopWriting := context.WithCancel(ctx)
	var (
		wg      sync.WaitGroup
		written atomic.Int64
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; writing.Err() == nil; n++ {
				opCtx, cancel := context.WithTimeout(writing, time.Second)
				if _, err := raw.Put(opCtx, fmt.Sprintf("%sk%d", prefix(rand.IntN(watchers)), n%8), fmt.Sprint(n)); err == nil {
					written.Add(1)
				}
				cancel()
			}
		}()
	}
	require.Eventually(t, func() bool { return written.Load() >= 200 }, watchTestWait, time.Millisecond)
	swallow.arm(watchers / 2)
	require.NoError(t, srv.Kill())
	require.NoError(t, srv.Restart(ctx))
	before := written.Load()
	require.Eventually(t, func() bool { return written.Load() >= before+200 }, watchTestWait, time.Millisecond)
	stopWriting()
	wg.Wait()
	// clientv3 resumes the watches one creation at a time: the armed one
	// may come after the writes above went through.
	require.Eventually(t, swallow.lost.Load, watchTestWait, 10*time.Millisecond,
		"the fault must have hit a resumed watch creation")

	for i := range watchers {
		require.Eventually(t, func() bool {
			opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			_, err := raw.Put(opCtx, prefix(i)+"final", "v")
			return err == nil
		}, watchTestWait, 50*time.Millisecond)
	}
	silent := func() []int {
		mu.Lock()
		defer mu.Unlock()
		var s []int
		for i := range watchers {
			if !final[i] {
				s = append(s, i)
			}
		}
		return s
	}
	require.Eventually(t, func() bool { return len(silent()) == 0 }, watchTestWait, 50*time.Millisecond,
		"watchers that never delivered the new key")
	stalled := stalledWatches(hook)
	t.Logf("stalled watches re-created: %d", stalled)
	require.NotZero(t, stalled, "the silent watches must have been detected as stalled")
}

// livenessTestClient connects an etcd client with the watch liveness check
// at period (idle and grace), fast reconnects and the extra dial options.
func livenessTestClient(t *testing.T, srv *hivetest.Server, period time.Duration, dial ...grpc.DialOption) (kvstore.BackendOperations, *logtest.Hook) {
	t.Helper()
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	extra := &kvstore.ExtraOptions{
		DialOption:          append(hivetest.FastReconnectDialOptions(), dial...),
		LockLeaseTTL:        5 * time.Second,
		ConnectivityTimeout: 20 * time.Second,
		Logger:              log,
	}
	c, errCh := etcd.New(context.Background(), map[string]string{
		kvstore.EtcdAddrOption:      srv.Endpoint(),
		kvstore.EtcdRateLimitOption: "10000",
	}, extra)
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	require.NoError(t, <-errCh)
	etcd.SetWatchLivenessForTest(c, period, period)
	return c, hook
}

// stalledWatches counts the watches the liveness check re-created.
func stalledWatches(hook *logtest.Hook) int {
	n := 0
	for _, e := range hook.AllEntries() {
		if strings.HasPrefix(e.Message, "Watch stalled") {
			n++
		}
	}
	return n
}

// TestWatchLivenessNeverRecreatesOnHealthyOrDeadServer: quiet watches on a
// healthy server keep asking for progress and get answers, and watches on a
// server that is down get none; in neither case is a watch re-created (that
// would only add load). After the restart every watch still delivers.
func TestWatchLivenessNeverRecreatesOnHealthyOrDeadServer(t *testing.T) {
	const watchers = 20
	srv := hivetest.StartServer(t)
	c, hook := livenessTestClient(t, srv, 100*time.Millisecond)
	raw := srv.Client(t)
	ctx := watchTestCtx(t)
	base := hivetest.UniquePrefix(t)
	prefix := func(i int) string { return fmt.Sprintf("%s%02d/", base, i) }

	var listed, finals atomic.Int64
	for i := range watchers {
		w := c.ListAndWatch(ctx, prefix(i), 1)
		t.Cleanup(w.Stop)
		go func() {
			for ev := range w.Events {
				switch {
				case ev.Typ == kvstore.EventTypeListDone:
					listed.Add(1)
				case ev.Key == prefix(i)+"final":
					finals.Add(1)
				}
			}
		}()
	}
	require.Eventually(t, func() bool { return listed.Load() == watchers }, watchTestWait, 10*time.Millisecond)

	// Healthy and quiet: several rounds of answered progress requests. etcd
	// drops a progress request while a watch of the stream starts beyond
	// the current revision, as these do (list revision + 1): one write
	// anywhere moves the store past them.
	_, err := raw.Put(ctx, base+"elsewhere", "v")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, answers := etcd.WatchProgressCounts(c)
		return answers >= 5*watchers
	}, watchTestWait, 10*time.Millisecond)
	require.Zero(t, stalledWatches(hook), "a healthy stream answers every watch")

	// Down: progress requests go unanswered, no watch is re-created.
	require.NoError(t, srv.Kill())
	requests, _ := etcd.WatchProgressCounts(c)
	require.Eventually(t, func() bool {
		r, _ := etcd.WatchProgressCounts(c)
		return r >= requests+5
	}, watchTestWait, 10*time.Millisecond)
	require.Zero(t, stalledWatches(hook), "nothing answers: nothing is known stalled")

	require.NoError(t, srv.Restart(ctx))
	for i := range watchers {
		require.Eventually(t, func() bool {
			opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			_, err := raw.Put(opCtx, prefix(i)+"final", "v")
			return err == nil
		}, watchTestWait, 50*time.Millisecond)
	}
	require.Eventually(t, func() bool { return finals.Load() == watchers }, watchTestWait, 10*time.Millisecond)
}

// TestStuckWatchCreationLeavesRequestSlotsFree: clientv3's Watch waits in
// the stream's creation queue until the server answers. A creation that is
// never answered must not hold one of the client's inflight request slots
// meanwhile: with a single slot, every other request would wait forever.
func TestStuckWatchCreationLeavesRequestSlotsFree(t *testing.T) {
	srv := hivetest.SharedServer(t)
	prefix := hivetest.UniquePrefix(t)
	swallow := &createSwallower{only: prefix}
	log, _ := logtest.NewNullLogger()
	c, errCh := etcd.New(context.Background(), map[string]string{
		kvstore.EtcdAddrOption:        srv.Endpoint(),
		kvstore.EtcdRateLimitOption:   "10000",
		kvstore.EtcdMaxInflightOption: "1",
	}, &kvstore.ExtraOptions{
		DialOption:          append(hivetest.FastReconnectDialOptions(), swallow.dialOption()),
		LockLeaseTTL:        5 * time.Second,
		ConnectivityTimeout: 20 * time.Second,
		Logger:              log,
	})
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	require.NoError(t, <-errCh)
	// The check would re-create the watch; here the creation must stay
	// stuck while the Get runs.
	etcd.SetWatchLivenessForTest(c, time.Hour, time.Hour)
	ctx := watchTestCtx(t)

	swallow.arm(1)
	w := c.ListAndWatch(ctx, prefix, 1)
	t.Cleanup(w.Stop)
	require.Eventually(t, swallow.lost.Load, watchTestWait, time.Millisecond)

	getCtx, cancel := context.WithTimeout(ctx, watchTestWait)
	defer cancel()
	_, err := c.Get(getCtx, prefix+"k")
	require.NoError(t, err, "a stuck watch creation must not hold the only request slot")
}
