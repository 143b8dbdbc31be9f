package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
)

// Kit is an embedded etcd cluster with a TCP proxy in front of every
// member's client port, and the faults to inject into it. Clients made by
// NewClient reach the members only through the proxies. Fault methods may
// be called concurrently with client traffic, but not with each other.
type Kit struct {
	Cluster *hivetest.Cluster
	proxies []*Proxy
	// peers[i] is the proxy in front of member i's peer port: what the
	// other members send member i passes through it.
	peers []*Proxy

	mu  sync.Mutex
	raw *clientv3.Client // direct to the members, for faults and status
}

// NewKit starts an n-member cluster and its proxies; both are closed when
// the test ends. opts are passed to hivetest.StartCluster.
func NewKit(tb testing.TB, n int, opts ...hivetest.ServerOption) *Kit {
	tb.Helper()
	var peerProxies []*Proxy
	route := func(peerAddr string) (string, error) {
		p, err := NewProxy(peerAddr)
		if err != nil {
			return "", err
		}
		peerProxies = append(peerProxies, p)
		return p.Addr(), nil
	}
	tb.Cleanup(func() {
		// After the cluster (cleanups run last first): members must not
		// lose their peers while they shut down.
		for _, p := range peerProxies {
			_ = p.Close()
		}
	})
	opts = append([]hivetest.ServerOption{hivetest.WithLogLevel("none"), hivetest.WithPeerProxy(route)}, opts...)
	k := &Kit{Cluster: hivetest.StartCluster(tb, n, opts...)}
	// A retry on fresh ports made new proxies: the last n are the members'.
	k.peers = peerProxies[len(peerProxies)-n:]
	for _, m := range k.Cluster.Members {
		u, err := url.Parse(m.Endpoint())
		if err != nil {
			tb.Fatalf("faults: member endpoint %q: %v", m.Endpoint(), err)
		}
		p, err := NewProxy(u.Host)
		if err != nil {
			tb.Fatal(err)
		}
		k.proxies = append(k.proxies, p)
	}
	tb.Cleanup(func() {
		k.CloseRaw()
		for _, p := range k.proxies {
			_ = p.Close()
		}
	})
	return k
}

// Size returns the number of members.
func (k *Kit) Size() int { return len(k.proxies) }

// Proxy returns the proxy in front of member i's client port.
func (k *Kit) Proxy(i int) *Proxy { return k.proxies[i] }

// PeerProxy returns the proxy in front of member i's peer port: setting it
// to Blackhole cuts member i off from what its peers send it (votes,
// appends, heartbeats' answers) while its clients still reach it.
func (k *Kit) PeerProxy(i int) *Proxy { return k.peers[i] }

// Endpoints returns the client URLs of the proxies, one per member.
func (k *Kit) Endpoints() []string {
	eps := make([]string, len(k.proxies))
	for i, p := range k.proxies {
		eps[i] = "http://" + p.Addr()
	}
	return eps
}

// ClientOptions are the --kvstore-opt values NewClient uses: the proxies as
// endpoints and no client-side rate limit to speak of.
func (k *Kit) ClientOptions() map[string]string { return clientOptions(k.Endpoints()) }

func clientOptions(endpoints []string) map[string]string {
	return map[string]string{
		kvstore.EtcdAddrOption:      strings.Join(endpoints, ","),
		kvstore.EtcdRateLimitOption: "100000",
		// gRPC raises keepalive pings to 10 s at least; the timeout is ours.
		kvstore.EtcdOptionKeepAliveHeartbeat: "10s",
		kvstore.EtcdOptionKeepAliveTimeout:   "2s",
	}
}

// ClientLogEnv, when set, sends the logs of the clients under test to
// stderr, for replaying a failing seed.
const ClientLogEnv = "HIVEKV_FAULTS_CLIENT_LOG"

// ExtraOptions are the short timings NewClient uses so that faults show
// within a run: lock lease 3 s, status probes 1 s, fast reconnects, and a
// logger that discards (clients log every fault at warning level)
// unless ClientLogEnv is set.
func ExtraOptions() *kvstore.ExtraOptions {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	if os.Getenv(ClientLogEnv) != "" {
		quiet.SetOutput(os.Stderr)
		quiet.SetLevel(logrus.InfoLevel)
	}
	return &kvstore.ExtraOptions{
		DialOption:             hivetest.FastReconnectDialOptions(),
		LockLeaseTTL:           3 * time.Second,
		ConnectivityTimeout:    20 * time.Second,
		StatusCheckTimeout:     time.Second,
		NoEndpointStatusChecks: true,
		Logger:                 quiet,
	}
}

// NewClient creates an etcd kvstore client through the proxies with
// ClientOptions and extra (nil means ExtraOptions()) and waits until it is
// connected or ctx ends. The caller closes it.
func (k *Kit) NewClient(ctx context.Context, extra *kvstore.ExtraOptions) (kvstore.BackendOperations, error) {
	return newClient(ctx, k.ClientOptions(), extra)
}

// NewIsolatableClient is NewClient through proxies of its own, one per
// member, which the caller closes after the client: setting them to
// Blackhole cuts this client alone off, as a crashed or partitioned
// process whose leases then expire.
func (k *Kit) NewIsolatableClient(ctx context.Context, extra *kvstore.ExtraOptions) (kvstore.BackendOperations, []*Proxy, error) {
	var proxies []*Proxy
	var eps []string
	closeAll := func() {
		for _, p := range proxies {
			_ = p.Close()
		}
	}
	for _, m := range k.Cluster.Members {
		u, err := url.Parse(m.Endpoint())
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("faults: member endpoint %q: %w", m.Endpoint(), err)
		}
		p, err := NewProxy(u.Host)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		proxies = append(proxies, p)
		eps = append(eps, "http://"+p.Addr())
	}
	c, err := newClient(ctx, clientOptions(eps), extra)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return c, proxies, nil
}

func newClient(ctx context.Context, opts map[string]string, extra *kvstore.ExtraOptions) (kvstore.BackendOperations, error) {
	if extra == nil {
		extra = ExtraOptions()
	}
	c, errCh := client.NewClient(ctx, kvstore.EtcdBackendName, opts, extra)
	if c == nil {
		return nil, <-errCh
	}
	select {
	case err := <-errCh:
		if err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("faults: client not connected: %w", ctx.Err())
	}
}

// Raw returns a clientv3 client that talks to the members directly, not
// through the proxies. CloseRaw closes it; the next Raw makes a new one.
func (k *Kit) Raw() (*clientv3.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.raw != nil {
		return k.raw, nil
	}
	cfg := k.Cluster.ClientConfig()
	cfg.Logger = zap.NewNop()
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("faults: raw client: %w", err)
	}
	k.raw = cli
	return cli, nil
}

// CloseRaw closes the raw client, so that a goroutine check after a run
// sees only what the clients under test left behind.
func (k *Kit) CloseRaw() {
	k.mu.Lock()
	raw := k.raw
	k.raw = nil
	k.mu.Unlock()
	if raw != nil {
		_ = raw.Close()
	}
}

// Leader returns the index of the leader as the running members see it,
// polling until one is known or ctx ends.
func (k *Kit) Leader(ctx context.Context) (int, error) {
	raw, err := k.Raw()
	if err != nil {
		return -1, err
	}
	for {
		idx, err := k.leaderOnce(ctx, raw)
		if err == nil {
			return idx, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("faults: no leader: %w (%v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (k *Kit) leaderOnce(ctx context.Context, raw *clientv3.Client) (int, error) {
	ids := make(map[uint64]int)
	var leader uint64
	for i, m := range k.Cluster.Members {
		if !m.Running() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := raw.Status(sctx, m.Endpoint())
		cancel()
		if err != nil {
			continue
		}
		ids[resp.Header.MemberId] = i
		if resp.Leader != 0 {
			leader = resp.Leader
		}
	}
	if idx, ok := ids[leader]; ok && leader != 0 {
		return idx, nil
	}
	return -1, errors.New("no running member names a running leader")
}

// Kill hard-stops member i (no leadership transfer), keeping its data.
func (k *Kit) Kill(i int) error { return k.Cluster.KillMember(i) }

// Restart starts a stopped member i again and waits until it serves.
func (k *Kit) Restart(ctx context.Context, i int) error {
	if k.Cluster.Members[i].Running() {
		return nil
	}
	return k.Cluster.RestartMember(ctx, i)
}

// Pause makes member i hang for its clients: its proxy holds every
// connection and the member stops gracefully, keeping its data. See the
// package documentation for what pause does not cover.
func (k *Kit) Pause(i int) error {
	k.proxies[i].SetMode(Blackhole)
	return k.Cluster.StopMember(i)
}

// Resume undoes Pause: the member restarts and its proxy passes again.
func (k *Kit) Resume(ctx context.Context, i int) error {
	err := k.Restart(ctx, i)
	k.proxies[i].SetMode(Pass)
	return err
}

// Partition sets the proxies of members to mode (Blackhole, Cut or Delay
// with SetDelay first): the client's view of a network partition.
func (k *Kit) Partition(mode ProxyMode, members ...int) {
	for _, i := range members {
		k.proxies[i].SetMode(mode)
	}
}

// Heal undoes every fault: proxies pass, stopped members restart, and it
// waits until every member serves and agrees on a leader.
func (k *Kit) Heal(ctx context.Context) error {
	for _, p := range append(slices.Clone(k.proxies), k.peers...) {
		p.SetMode(Pass)
	}
	errs := make([]error, k.Size())
	var wg sync.WaitGroup
	for i := range k.Size() {
		wg.Go(func() { errs[i] = k.Restart(ctx, i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("faults: heal: %w", err)
	}
	return k.waitHealthy(ctx)
}

// waitHealthy waits until every member answers Status with the same leader
// and a linearizable read succeeds.
func (k *Kit) waitHealthy(ctx context.Context) error {
	raw, err := k.Raw()
	if err != nil {
		return err
	}
	for {
		err := k.healthyOnce(ctx, raw)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("faults: cluster not healthy: %w (%v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (k *Kit) healthyOnce(ctx context.Context, raw *clientv3.Client) error {
	var leader uint64
	for _, m := range k.Cluster.Members {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := raw.Status(sctx, m.Endpoint())
		cancel()
		if err != nil {
			return err
		}
		if resp.Leader == 0 || (leader != 0 && resp.Leader != leader) {
			return errors.New("members do not agree on a leader")
		}
		leader = resp.Leader
	}
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := raw.Get(sctx, "faults/health")
	return err
}

// Compact compacts the store up to its current revision, physically, so
// that a watcher behind it must resynchronise. It returns the revision.
func (k *Kit) Compact(ctx context.Context) (int64, error) {
	raw, err := k.Raw()
	if err != nil {
		return 0, err
	}
	resp, err := raw.Get(ctx, "faults/compact")
	if err != nil {
		return 0, fmt.Errorf("faults: compact: %w", err)
	}
	rev := resp.Header.Revision
	if _, err := raw.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return 0, fmt.Errorf("faults: compact at %d: %w", rev, err)
	}
	return rev, nil
}

// RevokeLease revokes lease id on the server: every key attached to it goes.
func (k *Kit) RevokeLease(ctx context.Context, id clientv3.LeaseID) error {
	raw, err := k.Raw()
	if err != nil {
		return err
	}
	if _, err := raw.Revoke(ctx, id); err != nil {
		return fmt.Errorf("faults: revoke lease %x: %w", int64(id), err)
	}
	return nil
}

// LockHolder returns the key and lease of the current holder of the lock
// on path (the key under path/ with the lowest create revision), or "" when
// nobody holds it.
func (k *Kit) LockHolder(ctx context.Context, path string) (key string, lease clientv3.LeaseID, err error) {
	raw, err := k.Raw()
	if err != nil {
		return "", 0, err
	}
	resp, err := raw.Get(ctx, path+"/", clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend), clientv3.WithLimit(1))
	if err != nil {
		return "", 0, fmt.Errorf("faults: lock holder of %s: %w", path, err)
	}
	if len(resp.Kvs) == 0 {
		return "", 0, nil
	}
	return string(resp.Kvs[0].Key), clientv3.LeaseID(resp.Kvs[0].Lease), nil
}

// RevokeLockHolder revokes the lease of the current holder of the lock on
// path and records it in rec as a Revoke by worker, so the model knows the
// holder lost the lock then. It reports whether there was a holder.
func (k *Kit) RevokeLockHolder(ctx context.Context, rec *Recorder, worker int, path string) (bool, error) {
	key, lease, err := k.LockHolder(ctx, path)
	if err != nil || key == "" {
		return false, err
	}
	err = rec.Record(worker, Input{Kind: KindRevoke, LockKey: key}, func() (Output, error) {
		return Output{}, k.RevokeLease(ctx, lease)
	})
	return err == nil, err
}
