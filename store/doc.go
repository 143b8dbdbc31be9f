// Package store is the shared store: how a process publishes its own objects
// (nodes, services, endpoints, ...) under a key prefix of the kvstore, and how
// every other process keeps a synchronised view of them.
//
//   - SyncStore is the writer. It keeps the latest value of every key it
//     owns, writes changes in the background (coalesced per key, batched into
//     transactions when the backend implements kvstore.Transactional), retries
//     failures with per-key exponential backoff (or WSSWithRateLimiter's),
//     re-writes keys lost with an expired lease, and announces the end of its initial synchronisation with
//     a marker under kvstore.SyncedPrefix.
//   - WatchStore is the reader: a restartable list-and-watch of a prefix that
//     turns events into Observer calls and removes, after a restart, the keys
//     that disappeared while it was away.
//   - WatchStoreManager starts the readers of a remote cluster's prefixes once
//     the writer's synced marker for that prefix appears.
//   - SharedStore is the older combined reader/writer, kept for callers of the
//     reference API.
//   - Mirror copies a remote cluster's cilium/state/... into the local
//     cilium/cache/.../<cluster>/..., as KVStoreMesh does.
//   - Cell provides a Factory to a hive (with metrics when a
//     prometheus.Registerer is in the graph); ScriptCommands adds store/*
//     commands for hive scripts.
//
// The package works on any kvstore.BackendOperations and imports no backend:
// batching is used through the optional kvstore.Transactional capability.
// Keys live at path.Join(prefix, key.GetKeyName()), as in Cilium v1.16.
// Cluster names that become part of a key (synced markers, a Mirror's
// copies) must pass ValidateClusterName, Cilium's rule. The options keep the
// Cilium names (WSSWithWorkers, WSSWithRateLimiter,
// RWSWithEntriesMetric, ...); docs/store.md lists what the store guarantees
// and every difference from Cilium v1.16's API.
package store
