// Package meshscale is clustermesh in a box: Cilium's CI scale test for
// clustermesh (scale-test-clustermesh) built on one machine with real etcd
// servers, for the KVStoreMesh of package mesh.
//
//   - Remote clusters are spread over Config.Servers embedded etcd servers;
//     each has a client of its own and its keys under a prefix of its own
//     (meshscale/<cluster>/cilium/state/...), as if it had its own etcd.
//     Its writers are store.SyncStores publishing nodes, identities and
//     endpoints (ipcache entries) with synced markers and a cluster config
//     announcing synced canaries, then churning at the per-cluster rates.
//   - A mesh.Mesh mirrors every cluster (one config file each) into a local
//     embedded etcd.
//   - Agents follow the cache as Cilium agents do: per cluster a
//     WatchStoreManager on the local etcd gated on the synced markers, and a
//     WatchStore per resource.
//   - The run measures what the CI gates on (bootstrap time, sync-queue
//     maximum, sync errors, reconnections, warnings and errors) plus event
//     latency remote write → agent observer, keys/s mirrored, peak heap and
//     CPU of the process (etcd servers included: they run in it), and
//     whether every agent's final view equals the remote truth.
//   - With Config.Faults, a fault pass follows: kill and restart the local
//     etcd, then one remote server, then remove and re-add a cluster's config
//     file; each must converge back with no lost key, and the relists it
//     caused and its time to converge are reported.
//
// Run is the entry point (used by `make scale` through cmd/meshscale and by a
// small smoke test).
package meshscale
