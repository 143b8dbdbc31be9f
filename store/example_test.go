package store_test

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore/client/memory"
	"github.com/hivekv/kvstore/store"
)

// printer prints what a WatchStore reports and closes done at n updates.
type printer struct {
	mu    sync.Mutex
	lines []string
	n     int
	done  chan struct{}
}

func (p *printer) OnUpdate(k store.Key) {
	kv := k.(*store.KVPair)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, fmt.Sprintf("update %s=%s", kv.Key, kv.Value))
	if p.n--; p.n == 0 {
		close(p.done)
	}
}

func (p *printer) OnDelete(k store.NamedKey) {}

// A node publishes its objects with a SyncStore; another process follows
// them with a WatchStore, started by a WatchStoreManager once the writer's
// synced marker is there.
func Example() {
	quiet := logrus.New()
	quiet.SetLevel(logrus.WarnLevel)
	mem := memory.NewStore()
	writer, reader := mem.NewClient(nil), mem.NewClient(nil)
	defer writer.Close()
	defer reader.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := store.NewFactory(store.WithLogger(quiet))

	ss := f.NewSyncStore("cluster1", writer, "cilium/state/things/v1")
	go ss.Run(ctx)
	for _, name := range []string{"a", "b", "c"} {
		_ = ss.UpsertKey(ctx, store.NewKVPair(name, "value-"+name))
	}
	_ = ss.Synced(ctx) // marker: cilium/synced/cluster1/cilium/state/things/v1

	p := &printer{n: 3, done: make(chan struct{})}
	ws := f.NewWatchStore("cluster1", store.KVPairCreator, p)
	mgr := f.NewWatchStoreManager(reader, "cluster1")
	mgr.Register("cilium/state/things/v1", func(ctx context.Context) {
		ws.Watch(ctx, reader, "cilium/state/things/v1")
	})
	go mgr.Run(ctx)

	<-p.done
	p.mu.Lock()
	sort.Strings(p.lines)
	for _, l := range p.lines {
		fmt.Println(l)
	}
	p.mu.Unlock()
	// Output:
	// update a=value-a
	// update b=value-b
	// update c=value-c
}
