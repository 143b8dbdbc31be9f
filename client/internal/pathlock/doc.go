// Package pathlock is the process-local half of LockPath: a table of held
// paths, so that two goroutines of one client never both believe they hold
// the same distributed lock (an etcd lock is reentrant for its own session).
//
// Entries remember their owner and acquisition time so that a garbage
// collector can force-release locks leaked by a caller that never unlocked,
// and so that a late Unlock by the old owner cannot free the new owner's lock.
package pathlock
