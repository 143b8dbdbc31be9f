// Package etcd is the etcd v3 backend of kvstore (--kvstore=etcd). Create it
// through client.NewClient, or with New when the backend is fixed.
//
// It adds to the raw etcd client what a control plane needs: leases shared by
// up to 1,000 keys with expiry observers, process-local and distributed locks
// with fenced (*IfLocked) operations, ListAndWatch that never loses an update,
// quorum and heartbeat status checks, client-side rate limiting, user
// management, tracing and metrics.
//
// Files follow the concerns of package client/memory: client.go (connection
// and lifetime), config.go (options and the YAML config file), ops.go,
// locked.go, lease.go, lock*.go, watch*.go, status*.go, users.go, txn.go,
// and debug*.go (EtcdDbg, the connectivity report). request.go is the one
// path every request takes (rate limit, metrics, trace); tlsprobe.go the one
// TLS handshake of the connection diagnosis (status_connect.go,
// connect_warn.go) and EtcdDbg. LockSweeper removes lock keys whose owner is
// gone; EnableTracing logs every operation.
//
// It never links the etcd server: tests get one from package hivetest.
package etcd
