package meshscale

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/store"
)

// Resource prefixes as Cilium publishes them.
const (
	nodesPrefix = kvstore.StatePrefix + "/nodes/v1"
	idsPrefix   = kvstore.StatePrefix + "/identities/v1"
	ipPrefix    = kvstore.StatePrefix + "/ip/v1"
)

// namespace is the root of a cluster's keys on its (shared) server.
func namespace(cluster string) string { return path.Join("meshscale", cluster) }

// Resources is what the mesh mirrors of cluster: Cilium's resources, read
// under the cluster's namespace. The local layout is Cilium's
// (cilium/cache/<resource>/<cluster>/...).
func Resources(cluster string) []store.MirrorResource {
	def := store.DefaultMirrorResources(cluster)
	out := make([]store.MirrorResource, 0, 3)
	for _, r := range def {
		if r.Prefix == kvstore.StatePrefix+"/services/v1" {
			continue // the CI's mocked clusters publish no services
		}
		out = append(out, store.MirrorResource{Prefix: r.Prefix, Source: path.Join(namespace(cluster), r.Source)})
	}
	return out
}

func clusterName(i int) string { return fmt.Sprintf("cluster-%04d", i) }

// truth is the latest value of every key, by local (cache) key: what every
// agent's view must end equal to.
type truth struct {
	mu   sync.Mutex
	keys map[string]string
	// gone are clusters whose config file is removed: their keys are not
	// expected in the views.
	gone map[string]bool
}

func (t *truth) set(k, v string) {
	t.mu.Lock()
	t.keys[k] = v
	t.mu.Unlock()
}

// expected returns the keys the views must hold now.
func (t *truth) expected() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]string, len(t.keys))
	for k, v := range t.keys {
		if len(t.gone) > 0 && t.gone[clusterOfCacheKey(k)] {
			continue
		}
		out[k] = v
	}
	return out
}

// clusterOfCacheKey is the <cluster> of cilium/cache/<res>/v1/<cluster>/...
func clusterOfCacheKey(k string) string {
	parts := strings.SplitN(k, "/", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

// writer publishes one remote cluster's state with SyncStores, as its
// agents and operator would.
type writer struct {
	cluster string
	backend kvstore.BackendOperations
	stores  map[string]store.SyncStore // by resource prefix
	sources map[string]string          // resource prefix -> remote prefix
	truth   *truth
	pad     map[string]string
	seq     uint64
	mu      sync.Mutex
}

func newWriter(cluster string, b kvstore.BackendOperations, f store.Factory, t *truth) *writer {
	w := &writer{cluster: cluster, backend: b, stores: map[string]store.SyncStore{}, sources: map[string]string{}, truth: t,
		pad: map[string]string{
			nodesPrefix: strings.Repeat("n", 400), // a node with its addresses and annotations
			idsPrefix:   strings.Repeat("l", 200), // a label set
			ipPrefix:    strings.Repeat("e", 60),  // an ipcache entry
		}}
	for _, r := range Resources(cluster) {
		w.sources[r.Prefix] = r.Source
		w.stores[r.Prefix] = f.NewSyncStore(cluster, b, r.Source, store.WSSWithSyncedKeyOverride(r.Prefix))
	}
	return w
}

// run runs the stores until ctx ends.
func (w *writer) run(ctx context.Context, wg *sync.WaitGroup) {
	for _, s := range w.stores {
		wg.Go(func() { s.Run(ctx) })
	}
}

// publishClusterConfig announces synced canaries, so that the mesh waits for
// the markers before mirroring a resource.
func (w *writer) publishClusterConfig(ctx context.Context, id int) error {
	v, _ := json.Marshal(map[string]any{"id": id, "capabilities": map[string]any{"syncedCanaries": true, "maxConnectedClusters": 255}})
	return w.backend.Update(ctx, path.Join(kvstore.ClusterConfigPrefix, w.cluster), v, false)
}

// name is the key name of the i-th object of a resource.
func name(prefix string, i int) string {
	switch prefix {
	case nodesPrefix:
		return fmt.Sprintf("node-%04d", i)
	case idsPrefix:
		return fmt.Sprintf("id/%d", 100000+i)
	default:
		return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
}

// upsert writes object i of prefix with a new value carrying the time of the
// write (churn=true: measured by the agents).
func (w *writer) upsert(ctx context.Context, prefix string, i int, churn bool) {
	w.mu.Lock()
	w.seq++
	seq := w.seq
	w.mu.Unlock()
	flag := "b"
	if churn {
		flag = "c"
	}
	n := name(prefix, i)
	v := flag + "|" + strconv.FormatUint(seq, 10) + "|" + strconv.FormatInt(time.Now().UnixNano(), 10) + "|" + w.pad[prefix]
	w.truth.set(path.Join(kvstore.StateToCachePrefix(prefix), w.cluster, n), v)
	_ = w.stores[prefix].UpsertKey(ctx, store.NewKVPair(n, v))
}

// churnTime returns the write time of a churn value, or false.
func churnTime(v []byte) (time.Time, bool) {
	if len(v) < 2 || v[0] != 'c' {
		return time.Time{}, false
	}
	parts := strings.SplitN(string(v), "|", 4)
	if len(parts) < 3 {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}
