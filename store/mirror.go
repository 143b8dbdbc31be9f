package store

import (
	"context"
	"fmt"
	"path"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/logfallback"
)

// MirrorResource is one kind of state a Mirror copies from a remote cluster.
type MirrorResource struct {
	// Prefix is the resource's state prefix, such as
	// "cilium/state/nodes/v1". The copy lives under
	// path.Join(kvstore.StateToCachePrefix(Prefix), cluster).
	Prefix string
	// Source is the remote prefix that is copied. Empty means
	// path.Join(Prefix, cluster): where a cluster publishes its own nodes
	// and services.
	Source string
}

// DefaultMirrorResources are the resources KVStoreMesh mirrors, with the
// remote layout of a cluster that is not itself a cache: nodes and services
// under <prefix>/<cluster>, IPs under <prefix>/default, identities under the
// prefix itself.
func DefaultMirrorResources(cluster string) []MirrorResource {
	const (
		nodes      = kvstore.StatePrefix + "/nodes/v1"
		services   = kvstore.StatePrefix + "/services/v1"
		ips        = kvstore.StatePrefix + "/ip/v1"
		identities = kvstore.StatePrefix + "/identities/v1"
	)
	return []MirrorResource{
		{Prefix: nodes, Source: path.Join(nodes, cluster)},
		{Prefix: services, Source: path.Join(services, cluster)},
		{Prefix: ips, Source: path.Join(ips, "default")},
		{Prefix: identities, Source: identities},
	}
}

// MirrorConfig configures a Mirror.
type MirrorConfig struct {
	// Cluster is the remote cluster's name (required).
	Cluster string
	// Remote is a client of the remote cluster's kvstore (required).
	Remote WatchStoreBackend
	// Local is a client of the local kvstore (required).
	Local SyncStoreBackend
	// Resources lists what to copy (default DefaultMirrorResources).
	Resources []MirrorResource
	// SyncedCanaries says the remote's writers publish synced markers
	// (cilium/synced/<cluster>/<Prefix>): each resource is then copied
	// once its marker appears, so that a half-written remote state is
	// never mirrored as complete. Without it every resource starts at once.
	SyncedCanaries bool
	// Factory creates the stores (default NewFactory()).
	Factory Factory
}

// prune deletes local copies that the source no longer has but an earlier
// mirror of the same cluster left behind. It runs once the initial copy is
// written; the keys it finds then and does not own are stale.
func (mr *mirrored) prune(ctx context.Context) {
	ss, ok := mr.sync.(*syncStore)
	if !ok {
		return
	}
	if _, err := ss.pruneUnknown(ctx); err != nil && ctx.Err() == nil {
		ss.log.WithError(err).Warn("Unable to delete stale copies; they go with their lease")
	}
}

// Mirror copies a remote cluster's state into the local kvstore, as
// KVStoreMesh does, so that agents can read a remote cluster from the local
// etcd: for each resource, a WatchStore on the remote feeds a SyncStore on
// the local store, whose cluster name is the remote's.
//
// Layout (Cilium v1.16's): remote key Source/<name> is copied to
// path.Join(StateToCachePrefix(Prefix), cluster, name), and once the initial
// copy of a resource is complete the marker
// cilium/synced/<cluster>/<StateToCachePrefix(Prefix)> is written. A key
// deleted at the source is deleted in the copy, also when the deletion
// happened while the remote was unreachable (the watch lists again) or while
// no mirror ran (once its initial copy is written, a mirror deletes the
// copies under its cluster's prefix that it did not write: a mirror owns
// path.Join(StateToCachePrefix(Prefix), cluster) alone). Copies are written
// with the local client's lease, so a mirror that goes away for good takes
// its copies with it after the lease TTL.
type Mirror struct {
	cfg       MirrorConfig
	resources []*mirrored
	running   atomic.Bool
}

type mirrored struct {
	res    MirrorResource
	source string
	sync   SyncStore
	watch  WatchStore
	synced atomic.Bool
}

// NewMirror validates c and prepares the stores; Run starts them.
func NewMirror(c MirrorConfig) (*Mirror, error) {
	if err := ValidateClusterName(c.Cluster); err != nil {
		// The name is a key segment of the copies the mirror owns and
		// prunes: ".." would make it prune other clusters' copies.
		return nil, fmt.Errorf("mirror: name the remote cluster it copies: %w", err)
	}
	switch {
	case c.Remote == nil || c.Local == nil:
		return nil, fmt.Errorf("%w: a mirror needs a remote and a local backend", ErrNoBackend)
	}
	if c.Resources == nil {
		c.Resources = DefaultMirrorResources(c.Cluster)
	}
	if c.Factory == nil {
		c.Factory = NewFactory()
	}
	m := &Mirror{cfg: c}
	for _, r := range c.Resources {
		if r.Prefix == "" {
			return nil, fmt.Errorf("%w: mirror resource of cluster %q", ErrEmptyPrefix, c.Cluster)
		}
		cache := kvstore.StateToCachePrefix(r.Prefix)
		mr := &mirrored{res: r, source: r.Source}
		if mr.source == "" {
			mr.source = path.Join(r.Prefix, c.Cluster)
		}
		mr.sync = c.Factory.NewSyncStore(c.Cluster, c.Local, path.Join(cache, c.Cluster),
			WSSWithSyncedKeyOverride(cache))
		obs := mirrorObserver{sync: mr.sync, log: logfallback.Or(nil)}
		if ss, ok := mr.sync.(*syncStore); ok {
			obs.log = ss.log
		}
		mr.watch = c.Factory.NewWatchStore(c.Cluster, KVPairCreator, obs,
			RWSWithOnSyncCallback(func(ctx context.Context) {
				_ = mr.sync.Synced(ctx, func(ctx context.Context) {
					mr.prune(ctx)
					mr.synced.Store(true)
				})
			}))
		m.resources = append(m.resources, mr)
	}
	return m, nil
}

// Run copies until ctx ends and returns once every store stopped. A second
// concurrent Run returns ErrAlreadyRunning.
func (m *Mirror) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return fmt.Errorf("mirror of cluster %q: %w", m.cfg.Cluster, ErrAlreadyRunning)
	}
	defer m.running.Store(false)
	var mgr WatchStoreManager
	if m.cfg.SyncedCanaries {
		mgr = m.cfg.Factory.NewWatchStoreManager(m.cfg.Remote, m.cfg.Cluster)
	} else {
		mgr = NewWatchStoreManagerImmediate(m.cfg.Cluster)
	}
	var wg sync.WaitGroup
	for _, r := range m.resources {
		mgr.Register(r.res.Prefix, func(ctx context.Context) { r.watch.Watch(ctx, m.cfg.Remote, r.source) })
		wg.Go(func() { r.sync.Run(ctx) })
	}
	wg.Go(func() { mgr.Run(ctx) })
	wg.Wait()
	return nil
}

// Synced reports that every resource completed its initial copy (its local
// synced marker is written).
func (m *Mirror) Synced() bool {
	for _, r := range m.resources {
		if !r.synced.Load() {
			return false
		}
	}
	return true
}

// Keys is the number of remote keys the mirror holds, over all resources.
func (m *Mirror) Keys() uint64 {
	var n uint64
	for _, r := range m.resources {
		n += r.watch.NumEntries()
	}
	return n
}

// mirrorObserver forwards a WatchStore's changes to a SyncStore.
type mirrorObserver struct {
	sync SyncStore
	log  logrus.FieldLogger
}

// OnUpdate copies k. KVPair never fails to marshal; a name the SyncStore
// refuses (ErrKeyOutsidePrefix: the remote cluster named a key that would
// land outside its copy) is logged and not copied.
func (o mirrorObserver) OnUpdate(k Key) {
	if err := o.sync.UpsertKey(context.Background(), k); err != nil {
		o.log.WithError(err).Warn("Not mirroring a remote key")
	}
}

func (o mirrorObserver) OnDelete(k NamedKey) {
	if err := o.sync.DeleteKey(context.Background(), k); err != nil {
		o.log.WithError(err).Warn("Not mirroring the deletion of a remote key")
	}
}
