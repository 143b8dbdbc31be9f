package etcd

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore/client/internal/ratelimit"
)

// laggingKV answers serializable reads like a member that has not applied
// the requested revision yet, and linearizable ones normally.
type laggingKV struct {
	clientv3.KV
	mu    sync.Mutex
	reads []bool // serializable, per Get
}

func (f *laggingKV) Get(_ context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	op := clientv3.OpGet(key, opts...)
	f.mu.Lock()
	f.reads = append(f.reads, op.IsSerializable())
	f.mu.Unlock()
	if op.IsSerializable() {
		return nil, rpctypes.ErrFutureRev
	}
	return &clientv3.GetResponse{Kvs: []*mvccpb.KeyValue{{Key: []byte(key), Value: []byte("v")}}}, nil
}

// A pinned page read serializably from a member behind the list revision is
// asked for again linearizably instead of failing the list.
func TestListPageFallsBackToLinearizable(t *testing.T) {
	ctx := t.Context()
	kv := &laggingKV{}
	cli := clientv3.NewCtxClient(ctx)
	cli.KV = kv
	c := &etcdClient{ctx: ctx, cliSet: make(chan struct{}), limiter: ratelimit.New(1000, 0)}
	c.cli.Store(cli)
	r := &watchRun{c: c, ctx: ctx, prefix: "p/"}

	pinned := pageOptions{
		opts:     []clientv3.OpOption{clientv3.WithRev(7), clientv3.WithSerializable()},
		fallback: []clientv3.OpOption{clientv3.WithRev(7)},
	}
	resp, err := r.getPage("p/a", pinned)
	require.NoError(t, err)
	require.Equal(t, "p/a", string(resp.Kvs[0].Key))
	require.Equal(t, []bool{true, false}, kv.reads, "one serializable read, then one linearizable")

	// Without a fallback the error stands.
	_, err = r.getPage("p/a", pageOptions{opts: pinned.opts})
	require.ErrorIs(t, err, rpctypes.ErrFutureRev)
}
