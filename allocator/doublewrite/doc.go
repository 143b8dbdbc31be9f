// Package doublewrite is an allocator.Backend that writes to two backends
// and reads from one, for migrations (e.g. from one etcd cluster to
// another): run every node on NewBackend(old, new, false), watch Compare
// converge to nothing as the periodic sync fills the new side, switch
// reads with readFromSecondary, then drop the old side.
//
// Writes go to the primary first, then to the secondary. A new ID that
// fails on the secondary is deleted again on the primary (when the primary
// can: allocator.IDDeleter), so the caller's retry starts from the same
// state on both sides. Locks are taken on both sides (primary first), so
// that each side stays consistent with other writers of that side.
package doublewrite
