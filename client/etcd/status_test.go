package etcd_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/etcd"
	"github.com/hivekv/kvstore/hivetest"
)

// fastStatusOptions shortens every status interval so that a handful of
// checks take about a second.
func fastStatusOptions() *kvstore.ExtraOptions {
	return &kvstore.ExtraOptions{
		ClusterSizeDependantInterval: func(time.Duration) time.Duration { return 200 * time.Millisecond },
		StatusCheckTimeout:           time.Second,
		LockLeaseTTL:                 3 * time.Second,
		ConnectivityTimeout:          20 * time.Second,
		DialOption:                   hivetest.FastReconnectDialOptions(),
	}
}

// newEtcdClient connects a client to endpoints and closes it when the test
// ends; it fails the test if the connection does not come up.
func newEtcdClient(t *testing.T, endpoints []string, extra *kvstore.ExtraOptions) kvstore.BackendOperations {
	t.Helper()
	c, errCh := etcd.New(t.Context(), map[string]string{kvstore.EtcdAddrOption: strings.Join(endpoints, ",")}, extra)
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	select {
	case err := <-errCh:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("no connection within 30s")
	}
	return c
}

func waitConnected(t *testing.T, c kvstore.BackendOperations, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	require.NoError(t, <-c.Connected(ctx))
}

var (
	endpointVersionRe = regexp.MustCompile(`http://127\.0\.0\.1:\d+ - 3\.\d+\.\d+`)
	leaderRe          = regexp.MustCompile(`\(Leader\)`)
)

func TestStatusCluster(t *testing.T) {
	t.Parallel()
	cluster := hivetest.StartCluster(t, 3)
	extra := fastStatusOptions()
	extra.MaxConsecutiveQuorumErrors = 2
	reg := prometheus.NewRegistry()
	extra.Metrics = reg
	c := newEtcdClient(t, cluster.Endpoints(), extra)
	waitConnected(t, c, 10*time.Second)

	t.Run("healthy", func(t *testing.T) {
		var st *kvstore.Status
		require.Eventually(t, func() bool {
			st = c.Status()
			return st.State == kvstore.StateOK && strings.HasPrefix(st.Msg, "etcd: 3/3 connected")
		}, 10*time.Second, 20*time.Millisecond, "last status: %v", c.Status())
		require.Contains(t, st.Msg, "has-quorum=true")
		require.Regexp(t, `leases=[1-9]\d*, lock leases=\d+,`, st.Msg)
		require.Len(t, endpointVersionRe.FindAllString(st.Msg, -1), 3, st.Msg)
		require.Len(t, leaderRe.FindAllString(st.Msg, -1), 1, st.Msg)
	})

	t.Run("leader loss", func(t *testing.T) {
		leader, err := cluster.Leader(t.Context())
		require.NoError(t, err)
		require.NoError(t, cluster.StopMember(leader))
		t.Cleanup(func() { _ = cluster.RestartMember(context.Background(), leader) })

		// Operations go on through the remaining members.
		prefix := hivetest.UniquePrefix(t)
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			require.NoError(ct, c.Update(ctx, prefix+"k", []byte("v"), false))
			v, err := c.Get(ctx, prefix+"k")
			require.NoError(ct, err)
			require.Equal(ct, "v", string(v))
		}, 20*time.Second, 50*time.Millisecond)
		waitConnected(t, c, 20*time.Second)

		// The status notices the stopped member but keeps working.
		require.Eventually(t, func() bool {
			st := c.Status()
			return st.State == kvstore.StateWarning && strings.HasPrefix(st.Msg, "etcd: 2/3 connected") &&
				strings.Contains(st.Msg, "has-quorum=true")
		}, 20*time.Second, 20*time.Millisecond, "last status: %v", c.Status())

		require.NoError(t, cluster.RestartMember(t.Context(), leader))
		require.Eventually(t, func() bool {
			st := c.Status()
			return st.State == kvstore.StateOK && strings.HasPrefix(st.Msg, "etcd: 3/3 connected")
		}, 20*time.Second, 20*time.Millisecond, "last status: %v", c.Status())
	})

	t.Run("quorum loss", func(t *testing.T) {
		drain(c.StatusCheckErrors())
		require.NoError(t, cluster.StopMember(1))
		require.NoError(t, cluster.StopMember(2))
		restarted := false
		t.Cleanup(func() {
			if !restarted {
				_ = cluster.RestartMember(context.Background(), 1)
				_ = cluster.RestartMember(context.Background(), 2)
			}
		})

		var st *kvstore.Status
		require.Eventually(t, func() bool {
			st = c.Status()
			return st.State == kvstore.StateFailure
		}, 30*time.Second, 20*time.Millisecond, "last status: %v", c.Status())
		require.Regexp(t, `^quorum check failed [3-9] times in a row: `, st.Msg)
		require.Contains(t, st.Msg, "1/3 connected")
		require.GreaterOrEqual(t, metricValue(t, reg, "kvstore_quorum_errors_total", map[string]string{"error": "lock timeout"}), 3.0)

		select {
		case err := <-c.StatusCheckErrors():
			require.ErrorContains(t, err, "quorum check failed")
		case <-time.After(10 * time.Second):
			t.Fatal("no error on StatusCheckErrors")
		}

		// A waiter started during the outage is released once the quorum
		// is back.
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		connected := c.Connected(ctx)
		waitStatusRounds(t, c, 2) // two quorum checks failed while it waited
		select {
		case err := <-connected:
			t.Fatalf("Connected returned during quorum loss: %v", err)
		default:
		}

		restartBoth(t, cluster, 1, 2)
		restarted = true
		require.NoError(t, <-connected)
		require.Eventually(t, func() bool {
			st := c.Status()
			return st.State == kvstore.StateOK && strings.HasPrefix(st.Msg, "etcd: 3/3 connected")
		}, 30*time.Second, 20*time.Millisecond, "last status: %v", c.Status())
		// And a new waiter returns at once.
		waitConnected(t, c, 10*time.Second)
	})
}

// restartBoth restarts two members concurrently: one alone has no quorum to
// become ready with.
func restartBoth(t *testing.T, cluster *hivetest.Cluster, a, b int) {
	t.Helper()
	errs := make(chan error, 2)
	for _, i := range []int{a, b} {
		go func() { errs <- cluster.RestartMember(t.Context(), i) }()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
}

func drain(ch <-chan error) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func TestStatusHeartbeat(t *testing.T) {
	t.Parallel()
	srv := hivetest.StartServer(t)
	raw := srv.Client(t)
	reg := prometheus.NewRegistry()
	extra := fastStatusOptions()
	extra.HeartbeatInterval = 300 * time.Millisecond
	extra.Metrics = reg
	c := newEtcdClient(t, srv.Endpoints(), extra)

	// No heartbeat was ever written: that is no failure, however long it
	// lasts (see heartbeatError).
	require.Eventually(t, func() bool { return c.Status().State == kvstore.StateOK }, 10*time.Second, 10*time.Millisecond)
	// Four check rounds are at least three check intervals (200 ms) apart,
	// more than the two heartbeat intervals that fail a stale heartbeat.
	waitStatusRounds(t, c, 4)
	require.Equal(t, kvstore.StateOK, c.Status().State, "status without any heartbeat: %v", c.Status())

	beat := func() {
		_, err := raw.Put(t.Context(), kvstore.HeartbeatPath, time.Now().Format(time.RFC3339))
		require.NoError(t, err)
	}
	beat()
	// A heartbeat that stops coming fails the status...
	var st *kvstore.Status
	require.Eventually(t, func() bool {
		st = c.Status()
		return st.State == kvstore.StateFailure
	}, 10*time.Second, 10*time.Millisecond)
	require.Regexp(t, `^\d+(\.\d+)?m?s since last heartbeat update has been received \(written every 300ms\); etcd: 1/1 connected`, st.Msg)
	select {
	case err := <-c.StatusCheckErrors():
		require.ErrorContains(t, err, "since last heartbeat update has been received")
	case <-time.After(10 * time.Second):
		t.Fatal("no error on StatusCheckErrors")
	}
	require.GreaterOrEqual(t, metricValue(t, reg, "kvstore_quorum_errors_total", map[string]string{"error": "no event received"}), 1.0)

	// ...a deleted key (the writer's lease ran out) is no heartbeat...
	_, err := raw.Delete(t.Context(), kvstore.HeartbeatPath)
	require.NoError(t, err)
	waitStatusRounds(t, c, 2) // at least one whole round after the delete
	require.Equal(t, kvstore.StateFailure, c.Status().State, "status after the heartbeat key was deleted: %v", c.Status())

	// ...and a fresh one clears the failure.
	beat()
	require.Eventually(t, func() bool {
		st = c.Status()
		return st.State == kvstore.StateOK
	}, 10*time.Second, 10*time.Millisecond, "last status: %v", c.Status())
}

func TestStatusInitial(t *testing.T) {
	t.Parallel()
	extra := shortConnect()
	c, errCh := etcd.New(t.Context(), map[string]string{kvstore.EtcdAddrOption: "http://" + freeAddr(t)}, extra)
	t.Cleanup(c.Close)
	require.Equal(t, kvstore.Status{State: kvstore.StateWarning, Msg: "Waiting for initial connection to be established"}, *c.Status())

	connectErr := <-errCh
	require.Error(t, connectErr)
	st := c.Status()
	require.Equal(t, kvstore.StateFailure, st.State)
	require.Equal(t, "Failed to establish initial connection: "+connectErr.Error(), st.Msg)
	require.Equal(t, connectErr, <-c.StatusCheckErrors())

	// Waiters learn the connection failed, at once and for good.
	err := <-c.Connected(t.Context())
	require.ErrorIs(t, err, kvstore.ErrClientTimeout)
	select {
	case <-c.Disconnected():
	case <-time.After(10 * time.Second):
		t.Fatal("Disconnected not closed after a failed initial connection")
	}
}

func TestStatusOptions(t *testing.T) {
	t.Parallel()
	srv := hivetest.SharedServer(t)
	extra := fastStatusOptions()
	extra.NoEndpointStatusChecks = true
	extra.NoLockQuorumCheck = true
	c := newEtcdClient(t, srv.Endpoints(), extra)
	waitConnected(t, c, 10*time.Second)
	require.Eventually(t, func() bool {
		st := c.Status()
		return st.State == kvstore.StateOK && strings.HasPrefix(st.Msg, "etcd: 1/1 connected")
	}, 10*time.Second, 10*time.Millisecond, "last status: %v", c.Status())
	require.Regexp(t, `^etcd: 1/1 connected, leases=1, lock leases=0, has-quorum=true: endpoint status checks are disabled$`, c.Status().Msg)
}

func TestConnectedWaiters(t *testing.T) {
	t.Parallel()
	srv := hivetest.StartServer(t)
	extra := fastStatusOptions()
	c := newEtcdClient(t, srv.Endpoints(), extra)
	waitConnected(t, c, 10*time.Second)

	require.NoError(t, srv.Stop())
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = srv.Restart(context.Background())
		}
	})

	// Without quorum, a waiter gets its ctx's error, once the proof of the
	// client's last committed request (its session's lease grant) is older
	// than the status check timeout...
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		return errors.Is(<-c.Connected(ctx), context.DeadlineExceeded)
	}, 10*time.Second, 10*time.Millisecond)

	// ...or, if the client is closed meanwhile, ErrClientClosed.
	other := newEtcdClientNoWait(t, srv.Endpoints(), extra)
	waiting := other.Connected(t.Context())
	other.Close()
	require.ErrorIs(t, <-waiting, kvstore.ErrClientClosed)

	require.NoError(t, srv.Restart(t.Context()))
	restarted = true
	waitConnected(t, c, 20*time.Second)
}

// newEtcdClientNoWait creates a client without waiting for its connection.
func newEtcdClientNoWait(t *testing.T, endpoints []string, extra *kvstore.ExtraOptions) kvstore.BackendOperations {
	t.Helper()
	c, _ := etcd.New(t.Context(), map[string]string{kvstore.EtcdAddrOption: strings.Join(endpoints, ",")}, extra)
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	return c
}

func TestStatusDisconnected(t *testing.T) {
	t.Parallel()
	srv := hivetest.StartServer(t)
	extra := fastStatusOptions()
	extra.LockLeaseTTL = 2 * time.Second
	c := newEtcdClient(t, srv.Endpoints(), extra)
	waitConnected(t, c, 10*time.Second)

	disconnected := c.Disconnected()
	select {
	case <-disconnected:
		t.Fatal("Disconnected closed while connected")
	case <-time.After(200 * time.Millisecond):
	}

	// The lock session cannot be kept alive without the server: it ends
	// within its TTL.
	require.NoError(t, srv.Stop())
	select {
	case <-disconnected:
	case <-time.After(30 * time.Second):
		t.Fatal("Disconnected not closed after the session was lost")
	}

	require.NoError(t, srv.Restart(t.Context()))
	waitConnected(t, c, 20*time.Second)
	again := c.Disconnected()
	select {
	case <-again:
		t.Fatal("Disconnected of the new session closed while connected")
	case <-time.After(200 * time.Millisecond):
	}
	c.Close()
	select {
	case <-again:
	case <-time.After(10 * time.Second):
		t.Fatal("Disconnected not closed by Close")
	}
}

// waitStatusRounds waits until c's status checker has completed n more
// rounds: an explicit event to check "still so" against, rather than a span
// of time.
func waitStatusRounds(t *testing.T, c kvstore.BackendOperations, n uint64) {
	t.Helper()
	target := etcd.StatusRounds(c) + n
	require.Eventually(t, func() bool { return etcd.StatusRounds(c) >= target }, 60*time.Second, 10*time.Millisecond,
		"status checker stuck at round %d, waiting for %d", etcd.StatusRounds(c), target)
}
