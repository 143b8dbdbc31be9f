package faults

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/hivekv/kvstore"
)

// Found by the peer-delay scenario (seed 1003): a transaction with
// comparisons but no operation in either branch answered from a lagging
// member's state, at a revision older than a write acknowledged before it
// began. etcd takes such a request for a serializable read (every one of
// its operations is a serializable range, vacuously) and skips the
// ReadIndex round; the client must make it linearizable.
func TestTxnWithoutOperationsIsLinearizable(t *testing.T) {
	kit := NewKit(t, 3)
	ctx := t.Context()
	leader, err := kit.Leader(ctx)
	require.NoError(t, err)
	lagging := (leader + 1) % kit.Size()
	key := "faults/regression/txn-without-operations"

	// Writes go to the leader directly, never through the member that
	// will lag.
	cfg := kit.Cluster.ClientConfig()
	cfg.Endpoints, cfg.Logger = []string{kit.Cluster.Members[leader].Endpoint()}, zap.NewNop()
	toLeader, err := clientv3.New(cfg)
	require.NoError(t, err)
	defer func() { _ = toLeader.Close() }()
	_, err = toLeader.Put(ctx, key, "v1")
	require.NoError(t, err)

	// The client under test reaches the lagging member only.
	b, err := newClient(ctx, clientOptions([]string{"http://" + kit.Proxy(lagging).Addr()}), nil)
	require.NoError(t, err)
	defer b.Close()
	tx := b.(kvstore.Transactional)
	cfg.Endpoints = []string{kit.Cluster.Members[lagging].Endpoint()}
	toLagging, err := clientv3.New(cfg)
	require.NoError(t, err)
	defer func() { _ = toLagging.Close() }()
	require.Eventually(t, func() bool {
		resp, err := toLagging.Get(ctx, key, clientv3.WithSerializable())
		return err == nil && len(resp.Kvs) == 1 && string(resp.Kvs[0].Value) == "v1"
	}, 10*time.Second, 20*time.Millisecond)

	// The member stops hearing from its peers; v2 is acknowledged.
	kit.PeerProxy(lagging).SetMode(Blackhole)
	defer kit.PeerProxy(lagging).SetMode(Pass)
	_, err = toLeader.Put(ctx, key, "v2")
	require.NoError(t, err)

	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := tx.Txn(tctx, kvstore.Txn{If: []kvstore.Cmp{kvstore.CmpValue(key, []byte("v1"))}})
	require.False(t, err == nil && resp.Succeeded,
		"the comparison held on the value v2 replaced: answered from the lagging member's stale state at revision %d", revOf(resp))
}

func revOf(resp *kvstore.TxnResponse) uint64 {
	if resp == nil {
		return 0
	}
	return resp.Revision
}
