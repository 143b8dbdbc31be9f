package hivetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ReplaceMember replaces member i with a fresh one, as an operator replaces
// a broken machine: member i is killed and removed from the cluster, and a
// new member with an empty data directory is added in its place (same
// client and peer addresses, new member ID) and started; it catches up from
// the others. It needs a quorum among the other members, waits while etcd
// refuses to add a member to a cluster whose leader has not been connected
// to a quorum for 5 s, and returns once the new member serves (bounded by
// ctx and the start timeout).
func (c *Cluster) ReplaceMember(ctx context.Context, i int) error {
	old := c.Members[i]
	var others []string
	for j, m := range c.Members {
		if j != i {
			u := m.clientURL()
			others = append(others, u.String())
		}
	}
	cfg := old.clientConfig(others, true)
	cfg.Logger = zap.NewNop()
	cli, err := clientv3.New(cfg)
	if err != nil {
		return fmt.Errorf("hivetest: replace %s: %w", old.name, err)
	}
	defer func() { _ = cli.Close() }()

	old.mu.Lock()
	id := old.memberID
	old.mu.Unlock()
	if err := old.Kill(); err != nil {
		return err
	}
	// A membership change proposed before a new leader applied its first
	// entry is dropped by raft and its request never answers: every
	// attempt is bounded and retried, and a retry finds out what an
	// unanswered one did.
	err = retry(ctx, func(actx context.Context) (bool, error) {
		_, err := cli.MemberRemove(actx, id)
		return err == nil || strings.Contains(err.Error(), "member not found"), err
	})
	if err != nil {
		return fmt.Errorf("hivetest: remove %s (%x): %w", old.name, id, err)
	}
	peer := old.advertisedPeerURL()
	var newID uint64
	var members []*etcdserverpb.Member
	err = retry(ctx, func(actx context.Context) (bool, error) {
		// etcd also refuses to add a voting member until its leader has
		// been connected to a quorum for 5 s ("unhealthy cluster").
		added, err := cli.MemberAdd(actx, []string{peer.String()})
		if err == nil {
			newID, members = added.Member.ID, added.Members
			return true, nil
		}
		if !strings.Contains(err.Error(), "already exists") {
			return false, err
		}
		list, lerr := cli.MemberList(actx)
		if lerr != nil {
			return false, lerr
		}
		for _, m := range list.Members {
			if len(m.PeerURLs) > 0 && m.PeerURLs[0] == peer.String() {
				newID, members = m.ID, list.Members
				return true, nil
			}
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("hivetest: add a member in place of %s: %w", old.name, err)
	}

	gen := 1
	if k := strings.LastIndex(old.name, "-r"); k >= 0 {
		_, _ = fmt.Sscanf(old.name[k:], "-r%d", &gen)
		gen++
	}
	base := old.name
	if k := strings.LastIndex(base, "-r"); k >= 0 {
		base = base[:k]
	}
	name := fmt.Sprintf("%s-r%d", base, gen)
	dir := fmt.Sprintf("%s-r%d", strings.TrimSuffix(old.dataDir, fmt.Sprintf("-r%d", gen-1)), gen)
	m, err := newMember(old.cfg, name, dir, old.clientPort, old.peerPort)
	if err != nil {
		return err
	}
	m.advertisePeer, m.clusterToken, m.joinExisting = old.advertisePeer, old.clusterToken, true
	var peers []string
	for _, am := range members {
		n := am.Name
		if am.ID == newID {
			n = name
		}
		if len(am.PeerURLs) > 0 {
			peers = append(peers, n+"="+am.PeerURLs[0])
		}
	}
	m.initialCluster = strings.Join(peers, ",")

	sctx, cancel := context.WithTimeout(ctx, old.cfg.startTimeout)
	defer cancel()
	for {
		err = m.startLocked(sctx)
		if err == nil || !isAddrInUse(err) || !sleepCtx(sctx, 100*time.Millisecond) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("hivetest: start %s in place of %s: %w", name, old.name, err)
	}
	c.Members[i] = m
	// The old member is gone for good: its ports now belong to m.
	old.mu.Lock()
	old.closed = true
	old.mu.Unlock()
	return os.RemoveAll(old.dataDir)
}

// retry calls attempt with a 3 s context until it reports done or ctx
// ends, pausing 200 ms between attempts.
func retry(ctx context.Context, attempt func(context.Context) (bool, error)) error {
	for {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		done, err := attempt(actx)
		cancel()
		if done {
			return nil
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
		}
	}
}
