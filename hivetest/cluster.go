package hivetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Cluster is a multi-member etcd on loopback for leader-loss and quorum
// tests. Members[i] can be stopped, killed and restarted individually.
type Cluster struct {
	Members []*Server

	mu     sync.Mutex
	status *clientv3.Client // used by Leader; created lazily
}

// StartCluster starts n members with a static initial cluster, all in
// parallel (none becomes ready before a quorum runs), waits until every
// member serves and closes the cluster when the test ends. Election timing
// defaults to 50 ms heartbeat / 500 ms election so failover is quick.
func StartCluster(tb testing.TB, n int, opts ...ServerOption) *Cluster {
	tb.Helper()
	if n < 1 {
		tb.Fatalf("hivetest: cluster size %d", n)
	}
	cfg := buildConfig(opts)
	if cfg.dataDir == "" {
		cfg.dataDir = tb.TempDir()
	}
	ctx, cancel := context.WithTimeout(tb.Context(), cfg.startTimeout)
	defer cancel()
	c, err := newCluster(ctx, cfg, n)
	if err != nil {
		tb.Fatalf("hivetest: start cluster: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("hivetest: close cluster: %v", err)
		}
	})
	return c
}

func newCluster(ctx context.Context, cfg serverConfig, n int) (*Cluster, error) {
	cfg.tickMs, cfg.electionMs = cfg.timing(clusterTickMs, clusterElectionMs)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		c, err := tryCluster(ctx, cfg, n, attempt)
		if err == nil {
			return c, nil
		}
		if !isAddrInUse(err) {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("hivetest: no usable ports: %w", lastErr)
}

// tryCluster makes one attempt on fresh ports and directories; a failed
// attempt leaves nothing running.
func tryCluster(ctx context.Context, cfg serverConfig, n, attempt int) (*Cluster, error) {
	ports, err := reservePorts(2 * n)
	if err != nil {
		return nil, err
	}
	token := "hivetest-" + randomHex(4)
	c := &Cluster{Members: make([]*Server, n)}
	peers := make([]string, n)
	for i := range n {
		name := fmt.Sprintf("%s-m%d", token, i)
		dir := filepath.Join(cfg.dataDir, fmt.Sprintf("m%d-%d", i, attempt))
		m, err := newMember(cfg, name, dir, ports[2*i], ports[2*i+1])
		if err != nil {
			releasePorts(ports...)
			return nil, err
		}
		m.clusterToken = token
		c.Members[i] = m
		if cfg.peerAdvertise != nil {
			if m.advertisePeer, err = cfg.peerAdvertise(m.peerURL().Host); err != nil {
				releasePorts(ports...)
				return nil, fmt.Errorf("hivetest: peer proxy for %s: %w", name, err)
			}
		}
		u := m.advertisedPeerURL()
		peers[i] = name + "=" + u.String()
	}
	for _, m := range c.Members {
		m.initialCluster = strings.Join(peers, ",")
	}

	// If one member fails the others can never reach quorum, so cancel them.
	startCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, m := range c.Members {
		wg.Go(func() {
			if errs[i] = m.startLocked(startCtx); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = c.killAll()
		for _, m := range c.Members {
			_ = os.RemoveAll(m.dataDir)
		}
		// Report the root cause rather than the cancellations it caused.
		for _, e := range errs {
			if isAddrInUse(e) {
				return nil, e
			}
		}
		return nil, err
	}
	if cfg.auth {
		if err := enableAuth(ctx, c.Members[0].clientConfig(c.Endpoints(), false), cfg.rootPassword); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	if cfg.auth || cfg.certs != nil {
		if err := probe(ctx, c.ClientConfig()); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return c, nil
}

// killAll hard-stops and closes every member, in parallel.
func (c *Cluster) killAll() error {
	errs := make([]error, len(c.Members))
	var wg sync.WaitGroup
	for i, m := range c.Members {
		wg.Go(func() { errs[i] = errors.Join(m.Kill(), m.Close()) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Endpoints returns the client URLs of all members, running or not.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.Members {
		eps = append(eps, m.Endpoints()...)
	}
	return eps
}

// ClientConfig is Server.ClientConfig for all members' endpoints.
func (c *Cluster) ClientConfig() clientv3.Config {
	return c.Members[0].clientConfig(c.Endpoints(), true)
}

// Client returns a root client balanced over all members, closed when the
// test ends. It keeps working while a minority of members is down.
func (c *Cluster) Client(tb testing.TB) *clientv3.Client {
	tb.Helper()
	return newTestClient(tb, c.ClientConfig())
}

// Leader returns the index in Members of the current leader, asking each
// running member for its Status. Right after a leader loss there may be no
// leader yet, so it polls until one is known or ctx ends (30 s at most).
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	cli, err := c.statusClient()
	if err != nil {
		return -1, err
	}
	ctx, cancel := context.WithTimeout(ctx, defaultStartTimeout)
	defer cancel()
	for {
		idx, err := c.leaderOnce(ctx, cli)
		if err == nil {
			return idx, nil
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return -1, fmt.Errorf("hivetest: no leader: %w", err)
		}
	}
}

func (c *Cluster) leaderOnce(ctx context.Context, cli *clientv3.Client) (int, error) {
	lastErr := errors.New("no running member knows a leader")
	for _, m := range c.Members {
		if !m.Running() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := cli.Status(sctx, m.Endpoint())
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		if resp.Leader == 0 {
			continue
		}
		for i, cand := range c.Members {
			if cand.id() == resp.Leader && cand.Running() {
				return i, nil
			}
		}
	}
	return -1, lastErr
}

func (c *Cluster) statusClient() (*clientv3.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == nil {
		cli, err := clientv3.New(c.ClientConfig())
		if err != nil {
			return nil, fmt.Errorf("hivetest: status client: %w", err)
		}
		c.status = cli
	}
	return c.status, nil
}

// StopMember gracefully stops member i, keeping its data and ports.
func (c *Cluster) StopMember(i int) error { return c.Members[i].Stop() }

// KillMember hard-stops member i, keeping its data and ports.
func (c *Cluster) KillMember(i int) error { return c.Members[i].Kill() }

// RestartMember starts member i again on its data dir and ports and waits
// until it serves, which needs a quorum of the cluster to be running.
func (c *Cluster) RestartMember(ctx context.Context, i int) error {
	return c.Members[i].Restart(ctx)
}

// Close stops all members for good. Members are killed, in parallel: a
// graceful stop would make the leader hand over to a member that is itself
// shutting down and wait ~6 s for the transfer to time out.
//
// Close takes about 1 s, and a few goroutines serving etcd's internal peer
// HTTP connections can outlive it by up to 5 s (etcd's peer read timeout), so
// goroutine leak checks after a cluster test must retry for that long.
func (c *Cluster) Close() error {
	c.mu.Lock()
	status := c.status
	c.status = nil
	c.mu.Unlock()
	if status != nil {
		_ = status.Close() // only reports that its context is now cancelled
	}
	return c.killAll()
}
