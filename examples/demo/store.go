package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/hivekv/kvstore/store"
)

// printObserver prints what a WatchStore reports, in order, and signals
// changed after each event.
type printObserver struct {
	d       *demo
	changed chan struct{}
	mu      sync.Mutex
	n       int
}

func (o *printObserver) signal() {
	select {
	case o.changed <- struct{}{}:
	default:
	}
}

// waitSeen waits until the observer has seen n events.
func (o *printObserver) waitSeen(ctx context.Context, n int) error {
	for o.seen() < n {
		select {
		case <-o.changed:
		case <-ctx.Done():
			return fmt.Errorf("reader saw %d of %d events: %w", o.seen(), n, ctx.Err())
		}
	}
	return nil
}

func (o *printObserver) OnUpdate(k store.Key) {
	kv := k.(*store.KVPair)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	o.d.printf("         reader: update %s = %q\n", kv.Key, kv.Value)
	o.signal()
}

func (o *printObserver) OnDelete(k store.NamedKey) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	o.d.printf("         reader: delete %s\n", k.GetKeyName())
	o.signal()
}

func (o *printObserver) seen() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

// store publishes two keys through a SyncStore (batched into one
// transaction), waits for its synced marker, and follows them with a
// WatchStore, as nodes of a cluster share their objects. A program would
// take store.Factory from store.Cell.
func (d *demo) store(ctx context.Context) error {
	const prefix = "demo/store/nodes"
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := store.NewFactory(store.WithLogger(d.log))
	writer := f.NewSyncStore("demo", d.kv, prefix)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { defer wg.Done(); writer.Run(ctx) }()
	for _, kv := range []*store.KVPair{store.NewKVPair("node1", "10.0.0.1"), store.NewKVPair("node2", "10.0.0.2")} {
		if err := writer.UpsertKey(ctx, kv); err != nil {
			return err
		}
	}
	synced := make(chan struct{})
	if err := writer.Synced(ctx, func(context.Context) { close(synced) }); err != nil {
		return err
	}
	select {
	case <-synced:
	case <-ctx.Done():
		return ctx.Err()
	}
	d.printf("store  %s/ written, synced marker cilium/synced/demo/%s\n", prefix, prefix)

	obs := &printObserver{d: d, changed: make(chan struct{}, 1)}
	listed := make(chan struct{})
	reader := f.NewWatchStore("demo", store.KVPairCreator, obs,
		store.RWSWithOnSyncCallback(func(context.Context) { close(listed) }))
	wg.Add(1)
	go func() { defer wg.Done(); reader.Watch(ctx, d.kv, prefix) }()
	select {
	case <-listed:
	case <-ctx.Done():
		return ctx.Err()
	}
	d.printf("         reader synced\n")
	if err := writer.DeleteKey(ctx, store.NewKVPair("node2", "")); err != nil {
		return err
	}
	if err := obs.waitSeen(ctx, 3); err != nil {
		return err
	}
	d.printf("         reader holds %d key(s)\n", reader.NumEntries())
	return d.kv.DeletePrefix(ctx, "cilium/synced/demo/")
}
