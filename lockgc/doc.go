// Package lockgc provides a hive cell that keeps kvstore locks from blocking
// a cluster forever.
//
// It runs two jobs (job.Group jobs when the graph has a job.Registry,
// goroutines of a lifecycle hook otherwise; see docs/health.md):
//
//   - the local lock GC: every --kvstore-lock-gc-interval, process-local path
//     locks held longer than --kvstore-stale-lock-timeout are force-released
//     (client.RunLockGC), so that a caller that forgot to Unlock does not
//     block the rest of its process;
//   - the distributed lock sweep, when --kvstore-lock-sweep-prefixes is set:
//     every --kvstore-lock-sweep-interval, lock keys under those prefixes
//     that held their lock unchanged across two sweeps are deleted
//     (kvstore.LockSweeper: the module's one stale-lock rule, which the
//     allocator's RunLocksGC follows too), so that a key whose Unlock failed
//     while its owner keeps the lease alive does not block every node
//     (Cilium #9855). It works on any backend.
//
// The cell needs nothing from the graph: the kvstore client promise
// (promise.Promise[kvstore.BackendOperations]) is only required when sweep
// prefixes are given. It logs through the graph's logger and, with a
// cell.Health, reports in the "kvstore-lock-gc" scope (sweep failures).
package lockgc
