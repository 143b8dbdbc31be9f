package faults

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// StoreLog follows every change under a prefix with etcd's own watch,
// directly on the members (not through the proxies, so the client's faults
// do not touch it): the revision-ordered truth that the watchers of a run
// are checked against. Create it before the watchers, so it starts first.
type StoreLog struct {
	cli     *clientv3.Client
	prefix  string
	cancel  context.CancelFunc
	done    chan struct{}
	initial map[string]string

	mu     sync.Mutex
	events []StoreEvent
	rev    int64 // the log is complete up to here
	err    error // the log broke (compacted past it): the check is inconclusive
}

// NewStoreLog starts following prefix on k's members.
func NewStoreLog(ctx context.Context, k *Kit, prefix string) (*StoreLog, error) {
	cfg := k.Cluster.ClientConfig()
	cfg.Logger = zap.NewNop()
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("faults: store log client: %w", err)
	}
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("faults: store log: list %q: %w", prefix, err)
	}
	l := &StoreLog{cli: cli, prefix: prefix, done: make(chan struct{}), initial: map[string]string{}, rev: resp.Header.Revision}
	for _, kv := range resp.Kvs {
		l.initial[string(kv.Key)] = string(kv.Value)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	wch := cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1), clientv3.WithProgressNotify())
	go l.follow(wctx, wch)
	return l, nil
}

func (l *StoreLog) follow(ctx context.Context, wch clientv3.WatchChan) {
	defer close(l.done)
	for {
		select {
		case resp, ok := <-wch:
			if !ok {
				return
			}
			l.mu.Lock()
			if err := resp.Err(); err != nil {
				if resp.CompactRevision != 0 || resp.Canceled {
					l.err = fmt.Errorf("%w: etcd's own watch of %q broke: %v", ErrInconclusive, l.prefix, err)
					l.mu.Unlock()
					return
				}
				l.mu.Unlock()
				continue
			}
			for _, ev := range resp.Events {
				se := StoreEvent{Rev: ev.Kv.ModRevision, Key: string(ev.Kv.Key), Value: string(ev.Kv.Value)}
				if ev.Type == clientv3.EventTypeDelete {
					se.Delete, se.Value = true, ""
				}
				l.events = append(l.events, se)
			}
			l.rev = max(l.rev, resp.Header.Revision)
			l.mu.Unlock()
		case <-ctx.Done():
			return
		}
	}
}

// CatchUp waits until the log covers the store's current revision.
func (l *StoreLog) CatchUp(ctx context.Context) error {
	resp, err := l.cli.Get(ctx, "faults/catch-up")
	if err != nil {
		return fmt.Errorf("faults: store log: %w", err)
	}
	want := resp.Header.Revision
	for {
		l.mu.Lock()
		rev, lerr := l.rev, l.err
		l.mu.Unlock()
		if lerr != nil {
			return lerr
		}
		if rev >= want {
			return nil
		}
		// A progress notification carries the revision even when nothing
		// under the prefix changed.
		_ = l.cli.RequestProgress(ctx)
		if !sleepCtx(ctx, 20*time.Millisecond) {
			return fmt.Errorf("faults: store log never caught up with revision %d (at %d): %w", want, rev, ctx.Err())
		}
	}
}

// History returns the initial state and the changes so far.
func (l *StoreLog) History() (map[string]string, []StoreEvent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.initial, append([]StoreEvent(nil), l.events...), l.err
}

// Close stops following and closes the log's client.
func (l *StoreLog) Close() {
	l.cancel()
	<-l.done
	_ = l.cli.Close()
}
