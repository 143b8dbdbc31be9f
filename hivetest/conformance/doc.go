// Package conformance is the behaviour suite every kvstore backend must pass:
// code tested on the in-memory backend then behaves the same on etcd.
//
// Entry points:
//
//   - Run(t, b): every case (groups kv, lease, lock, watch) against b.
//   - Backend, Case: what a backend provides the suite, and one case.
//   - EtcdBackend(s): etcd clients of a hivetest.Server (TLS and auth as s
//     was started with).
//   - InMemoryBackend(): clients of a fresh private in-memory store.
//   - RecordWatch, NewWatchRecorder, WatchRecorder: record a Watcher's events
//     and check their order and contract as they arrive.
//   - ListStrings: a prefix's keys and values, read through the backend.
//
// Like hivetest it links the etcd server: only tests import it.
package conformance
