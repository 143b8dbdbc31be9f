package meshscale

import (
	"context"
	"fmt"
	"path"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
)

// baselinePrefix is where the raw copy writes in the local etcd.
const baselinePrefix = "meshscale-baseline/"

// rawCopy is the floor the mesh is compared with, measured in the same run:
// plain clientv3, one client per server, reading every cluster's resources
// in one range each and writing them to the local etcd in transactions of
// 128 puts, 4 in flight. It knows nothing of markers, leases or retries. The
// copy is deleted afterwards.
func (e *env) rawCopy(ctx context.Context) (time.Duration, int, error) {
	var clis []*clientv3.Client
	defer func() {
		for _, c := range clis {
			_ = c.Close()
		}
	}()
	dial := func(cfg clientv3.Config) (*clientv3.Client, error) {
		cfg.Context = ctx
		c, err := clientv3.New(cfg)
		if err == nil {
			clis = append(clis, c)
		}
		return c, err
	}
	local, err := dial(e.local.ClientConfig())
	if err != nil {
		return 0, 0, err
	}
	remotes := make([]*clientv3.Client, len(e.remotes))
	for i, s := range e.remotes {
		if remotes[i], err = dial(s.ClientConfig()); err != nil {
			return 0, 0, err
		}
	}
	start := time.Now()
	batches := make(chan []clientv3.Op, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 4 {
		wg.Go(func() {
			for ops := range batches {
				if _, err := local.Txn(ctx).Then(ops...).Commit(); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		})
	}
	n := 0
	for i := range e.cfg.Clusters {
		cluster := clusterName(i)
		for _, r := range Resources(cluster) {
			resp, err := remotes[i%len(remotes)].Get(ctx, r.Source+"/", clientv3.WithPrefix())
			if err != nil {
				close(batches)
				wg.Wait()
				return 0, 0, fmt.Errorf("raw copy: listing %s: %w", r.Source, err)
			}
			var ops []clientv3.Op
			dst := path.Join(baselinePrefix, kvstore.StateToCachePrefix(r.Prefix), cluster)
			for _, kv := range resp.Kvs {
				ops = append(ops, clientv3.OpPut(dst+string(kv.Key)[len(r.Source):], string(kv.Value)))
				if len(ops) == 128 {
					batches <- ops
					ops = nil
				}
			}
			if len(ops) > 0 {
				batches <- ops
			}
			n += len(resp.Kvs)
		}
	}
	close(batches)
	wg.Wait()
	took := time.Since(start)
	if firstErr != nil {
		return 0, 0, fmt.Errorf("raw copy: %w", firstErr)
	}
	if _, err := local.Delete(ctx, baselinePrefix, clientv3.WithPrefix()); err != nil {
		return 0, 0, fmt.Errorf("raw copy: cleaning up: %w", err)
	}
	return took, n, nil
}
