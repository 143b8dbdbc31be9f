// Package client creates kvstore clients by backend name: NewClient picks the
// etcd backend (package client/etcd) or the in-memory backend (package
// client/memory) from the --kvstore name and --kvstore-opt map, so that a
// program chooses its store by configuration alone.
//
// It also holds what does not belong to one backend:
//
//   - the global layer for programs without hive: Setup, Client, ClientCtx,
//     Connected;
//   - RunLockGC, which force-releases process-local path locks held too long
//     by clients of either backend.
//
// Code shared by both backends (key and size checks, path locks, lease
// bookkeeping, rate limiting, lease-expiry observers) lives in client/internal.
// Neither this package nor the backends link the etcd server: tests get one
// from package hivetest.
package client
