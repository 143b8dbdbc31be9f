// Package client holds the kvstore backends: the etcd v3 client and the
// in-memory backend (package memory), created with NewClient from the
// --kvstore name and --kvstore-opt map.
//
// The etcd backend adds to the raw etcd client what a control plane needs:
// leases shared by up to 1,000 keys with expiry observers, process-local and
// distributed locks with fenced (*IfLocked) operations, ListAndWatch that
// never loses an update, quorum and heartbeat status checks, client-side rate
// limiting, user management, tracing and metrics. It never links the etcd
// server: tests get one from package hivetest.
//
// Programs without hive can use the global layer: Setup, Client, Connected.
package client
