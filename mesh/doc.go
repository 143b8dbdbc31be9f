// Package mesh is KVStoreMesh: it mirrors the shared state of remote
// clusters (nodes, services, identities, IPs) into the local kvstore under
// cilium/cache/<resource>/<cluster>/..., so that agents read every cluster
// from their local etcd instead of connecting to each remote one.
//
//   - Config directory (--clustermesh-config): one etcd client config file
//     per remote cluster, named after it (Cilium's cluster name rule). It is
//     read every --clustermesh-config-poll-interval: a file appearing starts
//     a mirror, a changed content (also an atomic ..data symlink swap, as
//     Kubernetes updates a mounted secret) reconnects it, a file
//     disappearing stops it and drains its copy. Dot files are ignored, as
//     is a file named after the local cluster (--cluster-name). Polling,
//     not inotify: a secret mount changes by symlink swaps that inotify
//     reports unevenly, and a read of a few small files per interval costs
//     nothing.
//   - Per cluster: a client from its file, the cluster's config
//     (cilium/cluster-config/<cluster>) copied to the local kvstore with
//     the capabilities of a cache, then a store.Mirror. A cluster that
//     cannot be connected or has a broken file is retried with backoff and
//     reported in its own status entry only.
//   - Drain of a removed cluster (Cilium's order): its cluster config first,
//     then after --clustermesh-drain-grace-period its synced markers, then
//     its data. A new leader also drains the clusters whose config is in
//     the local kvstore without a file (--kvstoremesh-drain-orphans).
//   - HA: replicas contend for LeaderLockPath on the local kvstore; the
//     holder mirrors, the others wait, and take over when the holder's
//     lock session ends (lease expiry or release).
//   - Status: Mesh.Status (connected, synced, keys, last error per
//     cluster), published by the leader under StatusKey for kvstorectl,
//     the kvstoremesh/status script command, and Metrics; with a
//     cell.Health, the "kvstoremesh" scope (leader or standby, and one
//     cluster-<name> part per remote cluster: docs/health.md).
//
// Cell composes it into a hive with cells.Client and store.Cell.
package mesh
