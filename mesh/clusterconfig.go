package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"path"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/store"
)

// clusterConfig is the value under cilium/cluster-config/<cluster>, in
// Cilium's JSON shape (CiliumClusterConfig).
type clusterConfig struct {
	ID           uint32             `json:"id"`
	Capabilities configCapabilities `json:"capabilities"`
}

type configCapabilities struct {
	// SyncedCanaries: the cluster's writers publish synced markers.
	SyncedCanaries bool `json:"syncedCanaries"`
	// MaxConnectedClusters is Cilium's cluster-id range; kept as read.
	MaxConnectedClusters uint32 `json:"maxConnectedClusters,omitempty"`
	// Cached: the data lives under cilium/cache/... (the cluster is itself
	// served by a KVStoreMesh).
	Cached bool `json:"cached,omitempty"`
}

func clusterConfigKey(cluster string) string { return path.Join(kvstore.ClusterConfigPrefix, cluster) }

// readRemoteConfig reads the remote cluster's own config; a cluster that
// publishes none is treated as an old one: no synced markers, not cached.
func readRemoteConfig(ctx context.Context, remote kvstore.BackendOperations, cluster string) (clusterConfig, error) {
	var cfg clusterConfig
	v, err := remote.Get(ctx, clusterConfigKey(cluster))
	if err != nil || v == nil {
		return cfg, err
	}
	if err := json.Unmarshal(v, &cfg); err != nil {
		return cfg, fmt.Errorf("decoding %s: %w", clusterConfigKey(cluster), err)
	}
	return cfg, nil
}

// writeLocalConfig publishes the cluster's config in the local kvstore as
// KVStoreMesh does: same ID, and the capabilities of the copy (markers are
// always written, data lives in the cache). Agents treat the key's presence
// as "this cluster is connected".
func writeLocalConfig(ctx context.Context, local kvstore.BackendOperations, cluster string, src clusterConfig) error {
	dst := clusterConfig{ID: src.ID, Capabilities: configCapabilities{
		SyncedCanaries:       true,
		Cached:               true,
		MaxConnectedClusters: src.Capabilities.MaxConnectedClusters,
	}}
	v, err := json.Marshal(dst)
	if err != nil {
		return err
	}
	_, err = local.UpdateIfDifferent(ctx, clusterConfigKey(cluster), v, true)
	return err
}

// cachedResources are the resources of a remote that is itself a cache: the
// data of cluster lives under cilium/cache/<resource>/<cluster>.
func cachedResources(res []store.MirrorResource, cluster string) []store.MirrorResource {
	out := make([]store.MirrorResource, len(res))
	for i, r := range res {
		out[i] = store.MirrorResource{Prefix: r.Prefix, Source: path.Join(kvstore.StateToCachePrefix(r.Prefix), cluster)}
	}
	return out
}
