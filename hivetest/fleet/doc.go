// Package fleet is a reusable kit for fleet-scale tests: N agents, each
// what one node runs against a shared etcd — its own client, a SyncStore
// publishing its node key (leased) and a WatchStore following every node —
// plus the bookkeeping to tell when the fleet has converged (every agent has
// seen every agent's latest value) and what it cost (requests by kind,
// counted at the gRPC level with hivetest.RequestCounter).
//
// Scenario runs the faults of a fleet on a 3-member hivetest cluster (leader
// kill, compaction past every watcher, whole-cluster restart) and reports per
// fault the time to converge, requests by kind, relists and missing keys;
// cmd/scale-fleet is its command line (make scale-fleet).
//
// Like hivetest it links an embedded etcd: never import it from production
// code.
package fleet
