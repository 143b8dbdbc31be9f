package fleet

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore/hivetest"
)

// perAgentStart is what one agent sends from client.NewClient until its
// SyncStore wrote its node key and its WatchStore listed, counted at the
// gRPC level (docs/fleet.md explains each line). Raw clientv3 doing the
// same job needs one grant, one keepalive, one put, one list and one watch:
// the requests more are the watch of the heartbeat key behind the status
// (it shares the gRPC stream of the other watch) and one status request per
// endpoint right after connecting, so that the first Status() already names
// every endpoint's version and the leader. No lock traffic, no second
// lease: the first session is the data lease, and its grant proves the
// quorum that Connected waits for.
var perAgentStart = map[hivetest.RequestKind]int{
	hivetest.KindLeaseGrant:     1, // the data lease: the first session, and the node key's lease
	hivetest.KindLeaseKeepAlive: 1, // its first keepalive (then one every TTL/3: 5 min)
	hivetest.KindLeaseKAStreams: 1, // the keepalive stream
	hivetest.KindPut:            1, // the node key (a transaction of one put)
	hivetest.KindList:           1, // the WatchStore's list (one page)
	hivetest.KindWatch:          2, // the WatchStore's watch and the heartbeat watch
	hivetest.KindStreams:        2, // one keepalive stream, one watch stream for both watches
	hivetest.KindStatus:         1, // the first status line (one per endpoint; one endpoint here)
}

// TestRequestsPerAgentStart pins the request count of an agent's start, so
// that it cannot grow unnoticed: three agents must send exactly three times
// perAgentStart, and nothing more while they idle for a few status
// intervals' worth of polling.
func TestRequestsPerAgentStart(t *testing.T) {
	const agents = 3
	srv := hivetest.SharedServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	counter := hivetest.NewRequestCounter()
	f, err := Start(ctx, Config{Endpoints: srv.Endpoints(), Agents: agents, Prefix: hivetest.UniquePrefix(t), Counter: counter})
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WaitConverged(ctx)
	require.NoError(t, err)

	want := map[hivetest.RequestKind]int{}
	for k, n := range perAgentStart {
		want[k] = agents * n
	}
	// clientv3 sends a lease's first keepalive from a loop that ticks
	// every 500 ms: wait for it rather than for a span of time.
	require.Eventually(t, func() bool {
		return counter.Counts()[hivetest.KindLeaseKeepAlive] == agents
	}, 10*time.Second, 10*time.Millisecond, "counts: %v", hivetest.FormatCounts(counter.Counts()))
	require.Equal(t, want, counter.Counts(), "requests of %d agents' start: %s", agents, hivetest.FormatCounts(counter.Counts()))
	require.Equal(t, 7*agents, hivetest.Requests(counter.Counts()))
}

// TestRequestCounterKinds checks the classification itself on a raw client.
func TestRequestCounterKinds(t *testing.T) {
	srv := hivetest.SharedServer(t)
	counter := hivetest.NewRequestCounter()
	counter.LockPrefix("locks/")
	cfg := srv.ClientConfig()
	cfg.DialOptions = append(cfg.DialOptions, counter.DialOptions()...)
	cli := newRawClient(t, cfg)
	ctx := t.Context()
	p := hivetest.UniquePrefix(t)
	_, err := cli.Put(ctx, p+"a", "1")
	require.NoError(t, err)
	_, err = cli.Get(ctx, p, clientv3.WithPrefix())
	require.NoError(t, err)
	_, err = cli.Put(ctx, "locks/"+p, "x")
	require.NoError(t, err)
	_, err = cli.Delete(ctx, "locks/"+p)
	require.NoError(t, err)
	_, err = cli.Delete(ctx, p+"a")
	require.NoError(t, err)
	_, err = cli.Status(ctx, srv.Endpoint())
	require.NoError(t, err)
	g, err := cli.Grant(ctx, 60)
	require.NoError(t, err)
	_, err = cli.Revoke(ctx, g.ID)
	require.NoError(t, err)
	require.Equal(t, map[hivetest.RequestKind]int{
		hivetest.KindPut: 1, hivetest.KindList: 1, hivetest.KindLock: 2, hivetest.KindDelete: 1,
		hivetest.KindStatus: 1, hivetest.KindLeaseGrant: 1, hivetest.KindLeaseOther: 1,
	}, counter.Counts())
	require.Equal(t, 8, hivetest.Requests(counter.Reset()))
	require.Empty(t, counter.Counts())
}

func newRawClient(t *testing.T, cfg clientv3.Config) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}
