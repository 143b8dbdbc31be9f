package memory

import (
	"fmt"
	"sort"
	"sync/atomic"
	"time"
)

// storeLease is a lease as the store knows it: the keys attached to it and
// what happens when it ends.
//
// While its owning client lives a lease never expires (the client "keeps it
// alive"). Once the owner is closed, the lease expires ttl later, deleting
// its keys, as an etcd lease whose keepalives stopped. RevokeLease ends it at
// once and tells the owner, as etcd's failing keepalive tells a live client.
type storeLease struct {
	id    int64
	ttl   time.Duration
	keys  map[string]struct{}
	lost  func(id int64) // tells the owner; called without the store lock
	timer *time.Timer    // expiry countdown, once the owner is closed
}

// Lease IDs are unique in the process, not only per store, so that a lock
// key or lease ID never means something in two stores at once. They start
// high so that they look like etcd's in logs and lock keys.
var nextLeaseID atomic.Int64

func init() { nextLeaseID.Store(0x7a3c_0000_0000) }

// leaseNotFoundError is what a write with a lease the store no longer has
// fails with, as etcd's "requested lease not found".
type leaseNotFoundError struct{ id int64 }

func (e *leaseNotFoundError) Error() string {
	return fmt.Sprintf("requested lease not found: %x", e.id)
}

// grantLease creates a lease; lost is called (without the store lock) if the
// lease is revoked while its owner lives.
func (s *Store) grantLease(ttl time.Duration, lost func(int64)) int64 {
	id := nextLeaseID.Add(1)
	s.mu.Lock()
	s.leases[id] = &storeLease{id: id, ttl: ttl, keys: make(map[string]struct{}), lost: lost}
	s.mu.Unlock()
	return id
}

// RevokeLease deletes lease id and every key attached to it now, as if it
// had expired on an etcd server, and reports whether the lease existed. A
// live owning client notices, as an etcd client notices through its failing
// keepalive: it calls its lease-expired observers for the keys it had
// attached to the lease, and later lease=true writes get a fresh lease. If
// id is a lock lease, the locks taken with it are lost.
func (s *Store) RevokeLease(id int64) bool {
	s.mu.Lock()
	l := s.revokeLocked(id)
	var lost func(int64)
	if l != nil {
		lost = l.lost
	}
	s.mu.Unlock()
	if lost != nil {
		lost(id)
	}
	return l != nil
}

// LeaseKeys returns the keys attached to lease id, sorted; nil if the lease
// does not exist.
func (s *Store) LeaseKeys(id int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.leases[id]
	if l == nil {
		return nil
	}
	keys := make([]string, 0, len(l.keys))
	for k := range l.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// revokeLocked removes lease id and deletes its keys in one revision.
func (s *Store) revokeLocked(id int64) *storeLease {
	l := s.leases[id]
	if l == nil {
		return nil
	}
	delete(s.leases, id)
	if l.timer != nil {
		l.timer.Stop()
	}
	keys := make([]string, 0, len(l.keys))
	for k := range l.keys {
		keys = append(keys, k)
	}
	// Sorted, so that the Delete events of one expiry come in key order.
	sort.Strings(keys)
	s.deleteLocked(keys)
	return l
}

// orphanLeases starts the expiry countdown of leases whose owner closed.
func (s *Store) orphanLeases(ids []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		l := s.leases[id]
		if l == nil || l.timer != nil {
			continue
		}
		l.lost = nil
		l.timer = time.AfterFunc(l.ttl, func() {
			s.mu.Lock()
			// A revoke may have taken the lease meanwhile; then l is
			// not in the map any more and nothing happens.
			if s.leases[id] == l {
				s.revokeLocked(id)
			}
			s.mu.Unlock()
		})
	}
}
