// Package lockgc provides a hive cell that keeps kvstore locks from blocking
// a cluster forever.
//
// It runs two jobs on the hive lifecycle, each on its own goroutine:
//
//   - the local lock GC: every --kvstore-lock-gc-interval, process-local path
//     locks held longer than --kvstore-stale-lock-timeout are force-released
//     (client.RunLockGC), so that a caller that forgot to Unlock does not
//     block the rest of its process;
//   - the distributed lock sweep, when --kvstore-lock-sweep-prefixes is set:
//     every --kvstore-lock-sweep-interval, lock keys under those prefixes
//     that held their lock unchanged across two sweeps are deleted
//     (etcd.LockSweeper in package client/etcd), so that a key whose Unlock failed while its
//     owner keeps the lease alive does not block every node (Cilium #9855).
//
// The cell needs nothing from the graph: the kvstore client promise
// (promise.Promise[kvstore.BackendOperations]) is only required when sweep
// prefixes are given, and a logrus.FieldLogger is used when provided.
package lockgc
