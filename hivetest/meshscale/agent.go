package meshscale

import (
	"context"
	"path"
	"sync"
	"time"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/store"
)

// agent follows the local cache as a Cilium agent does: per remote cluster,
// a WatchStoreManager on the local kvstore gated on the cluster's synced
// markers, and a WatchStore per resource.
type agent struct {
	// clients are the agent's local clients; cluster i reads through
	// clients[i/perClient].
	clients   []kvstore.BackendOperations
	perClient int
	lat       *latencies

	mu   sync.Mutex
	view map[string]string
}

func newAgent(clients []kvstore.BackendOperations, perClient int, lat *latencies) *agent {
	return &agent{clients: clients, perClient: perClient, lat: lat, view: map[string]string{}}
}

// follow watches cluster i until ctx ends.
func (a *agent) follow(ctx context.Context, f store.Factory, i int, wg *sync.WaitGroup) {
	cluster := clusterName(i)
	local := a.clients[i/a.perClient]
	mgr := f.NewWatchStoreManager(local, cluster)
	for _, r := range Resources(cluster) {
		cache := kvstore.StateToCachePrefix(r.Prefix)
		base := path.Join(cache, cluster)
		ws := f.NewWatchStore(cluster, store.KVPairCreator, &observer{a: a, base: base})
		mgr.Register(cache, func(ctx context.Context) { ws.Watch(ctx, local, base) })
	}
	wg.Go(func() { mgr.Run(ctx) })
}

// snapshot copies the view.
func (a *agent) snapshot() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]string, len(a.view))
	for k, v := range a.view {
		out[k] = v
	}
	return out
}

type observer struct {
	a    *agent
	base string
}

func (o *observer) OnUpdate(k store.Key) {
	kv := k.(*store.KVPair)
	now := time.Now()
	if t, ok := churnTime(kv.Value); ok && o.a.lat.on.Load() {
		o.a.lat.add(now.Sub(t))
	}
	o.a.mu.Lock()
	o.a.view[path.Join(o.base, kv.Key)] = string(kv.Value)
	o.a.mu.Unlock()
}

func (o *observer) OnDelete(k store.NamedKey) {
	o.a.mu.Lock()
	delete(o.a.view, path.Join(o.base, k.GetKeyName()))
	o.a.mu.Unlock()
}

// diff compares a view with the truth: keys missing, keys with another value,
// keys that should not be there.
func diff(want, got map[string]string) (missing, stale, extra int, example string) {
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing++
			if example == "" {
				example = "missing " + k
			}
		case g != v:
			stale++
			if example == "" {
				example = "stale " + k
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra++
			if example == "" {
				example = "extra " + k
			}
		}
	}
	return missing, stale, extra, example
}
