package memory

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/leasebook"
)

// leaseManager is the client side of leases, the in-memory twin of the etcd
// backend's manager: it hands out the current lease until 1,000 keys are
// attached to it, then grants a new one, and remembers which key it attached
// to which lease. The store only deletes keys; it is this bookkeeping that
// decides which keys the lease-expired observers hear about, exactly as on
// etcd (a key overwritten without lease is still reported, for instance).
//
// A client has two: data leases (TTL ExtraOptions.EffectiveLeaseTTL) and
// lock leases (EffectiveLockLeaseTTL; locks and the connection session).
//
// Lock order: leaseManager.mu before Store.mu; the store never calls back
// into a manager while holding its lock.
type leaseManager struct {
	store *Store
	ttl   time.Duration
	log   logrus.FieldLogger
	// lost is handed to the store with every grant; it schedules expire
	// on the owning client's background goroutines.
	lost func(id int64)
	// onExpired receives the keys of an expired lease; nil for locks.
	onExpired func(keys []string)

	mu     sync.Mutex
	closed bool
	// book maps keys to leases; a lease's value is the channel closed
	// when the lease ends for this client.
	book *leasebook.Book[int64, chan struct{}]
}

func newLeaseManager(s *Store, ttl time.Duration, log logrus.FieldLogger, lost func(int64), onExpired func([]string)) *leaseManager {
	return &leaseManager{
		store:     s,
		ttl:       ttl,
		log:       log,
		lost:      lost,
		onExpired: onExpired,
		book:      leasebook.New[int64, chan struct{}](kvstore.DefaultMaxKeysPerLease),
	}
}

// errManagerClosed keeps a closing client from granting leases nobody would
// ever orphan (they would then never expire).
var errManagerClosed = fmt.Errorf("lease manager: %w", kvstore.ErrClientClosed)

// GetLeaseID returns the lease key is to be written with, attaching key to
// it unless it is attached already.
func (m *leaseManager) GetLeaseID(key string) (int64, error) {
	id, _, err := m.session(key)
	return id, err
}

// session is GetLeaseID that also returns the channel closed when the lease
// ends for this client (expired, revoked or the client closed).
func (m *leaseManager) session(key string) (int64, <-chan struct{}, error) {
	id, done, _, err := m.attach(key)
	return id, done, err
}

// attach is session that also reports whether this call attached key (it
// was not attached before): a caller whose write then did not happen
// Releases it, while a key attached by an earlier write stays attached.
func (m *leaseManager) attach(key string) (id int64, done <-chan struct{}, fresh bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, nil, false, errManagerClosed
	}
	if id, done, ok := m.book.Lookup(key); ok {
		return id, done, false, nil
	}
	if id, done, ok := m.book.Attach(key); ok {
		return id, done, true, nil
	}
	id = m.store.grantLease(m.ttl, m.lost)
	m.book.Add(id, make(chan struct{}))
	m.log.WithFields(logrus.Fields{"lease": leaseHex(id), "ttl": m.ttl}).Debug("New lease granted")
	id, ch, _ := m.book.Attach(key)
	return id, ch, true, nil
}

// expire forgets lease id and reports the keys that were attached to it.
// It acts once per lease, whoever notices first: the store's notification
// or a write that failed with the lease.
func (m *leaseManager) expire(id int64) {
	m.mu.Lock()
	done, lost, ok := m.book.Remove(id)
	if ok {
		close(done)
	}
	m.mu.Unlock()
	if !ok {
		return
	}
	m.log.WithFields(logrus.Fields{"lease": leaseHex(id), "keys": len(lost)}).Warning("Lease expired")
	if m.onExpired != nil && len(lost) > 0 {
		m.onExpired(lost)
	}
}

// CancelIfExpired expires lease id when err says the store no longer has
// it, and reports whether it did: the caller may then retry on a fresh lease.
func (m *leaseManager) CancelIfExpired(err error, id int64) bool {
	var nf *leaseNotFoundError
	if id == 0 || !errors.As(err, &nf) {
		return false
	}
	m.expire(id)
	return true
}

// Release detaches key from its lease; the lease stays for reuse.
func (m *leaseManager) Release(key string) {
	m.mu.Lock()
	m.book.Release(key)
	m.mu.Unlock()
}

// ReleasePrefix detaches every key starting with prefix.
func (m *leaseManager) ReleasePrefix(prefix string) {
	m.mu.Lock()
	m.book.ReleasePrefix(prefix)
	m.mu.Unlock()
}

// TotalLeases returns how many leases the manager holds.
func (m *leaseManager) TotalLeases() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.book.Leases()
}

// close stops granting and ends every lease for this client. Without revoke
// it starts their expiry countdown in the store: the keys stay for one TTL,
// as on etcd when a process stops without revoking (data leases). With
// revoke the leases and their keys go at once, as the etcd backend revokes
// its lock leases at Close.
func (m *leaseManager) close(revoke bool) {
	m.mu.Lock()
	m.closed = true
	ids := make([]int64, 0, m.book.Leases())
	m.book.Each(func(id int64, done chan struct{}) {
		ids = append(ids, id)
		close(done)
	})
	m.book = leasebook.New[int64, chan struct{}](kvstore.DefaultMaxKeysPerLease)
	m.mu.Unlock()
	if !revoke {
		m.store.orphanLeases(ids)
		return
	}
	for _, id := range ids {
		m.store.RevokeLease(id)
	}
}

func leaseHex(id int64) string { return fmt.Sprintf("%x", id) }
