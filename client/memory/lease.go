package memory

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
)

// leaseManager is the client side of leases, the in-memory twin of the etcd
// backend's manager: it hands out the current lease until maxKeys keys are
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
	store   *Store
	ttl     time.Duration
	maxKeys int
	log     logrus.FieldLogger
	// lost is handed to the store with every grant; it schedules expire
	// on the owning client's background goroutines.
	lost func(id int64)
	// onExpired receives the keys of an expired lease; nil for locks.
	onExpired func(keys []string)

	mu      sync.Mutex
	closed  bool
	current int64
	leases  map[int64]*clientLease
	keys    map[string]int64
}

type clientLease struct {
	count int
	done  chan struct{} // closed when the lease ends for this client
}

func newLeaseManager(s *Store, ttl time.Duration, log logrus.FieldLogger, lost func(int64), onExpired func([]string)) *leaseManager {
	return &leaseManager{
		store:     s,
		ttl:       ttl,
		maxKeys:   kvstore.DefaultMaxKeysPerLease,
		log:       log,
		lost:      lost,
		onExpired: onExpired,
		leases:    make(map[int64]*clientLease),
		keys:      make(map[string]int64),
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
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, nil, errManagerClosed
	}
	if id, ok := m.keys[key]; ok {
		return id, m.leases[id].done, nil
	}
	id, l := m.roomLocked()
	if l == nil {
		id = m.store.grantLease(m.ttl, m.lost)
		l = &clientLease{done: make(chan struct{})}
		m.leases[id] = l
		m.log.WithFields(logrus.Fields{"lease": leaseHex(id), "ttl": m.ttl}).Debug("New lease granted")
	}
	m.current = id
	l.count++
	m.keys[key] = id
	return id, l.done, nil
}

// roomLocked returns the current lease, or any lease, with room for a key.
func (m *leaseManager) roomLocked() (int64, *clientLease) {
	if l, ok := m.leases[m.current]; ok && l.count < m.maxKeys {
		return m.current, l
	}
	for id, l := range m.leases {
		if l.count < m.maxKeys {
			return id, l
		}
	}
	return 0, nil
}

// expire forgets lease id and reports the keys that were attached to it.
// It acts once per lease, whoever notices first: the store's notification
// or a write that failed with the lease.
func (m *leaseManager) expire(id int64) {
	m.mu.Lock()
	l, ok := m.leases[id]
	if !ok {
		m.mu.Unlock()
		return
	}
	delete(m.leases, id)
	close(l.done)
	if m.current == id {
		m.current = 0
	}
	var lost []string
	for k, kl := range m.keys {
		if kl == id {
			lost = append(lost, k)
			delete(m.keys, k)
		}
	}
	m.mu.Unlock()
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

// isAttached reports whether key is attached to any lease.
func (m *leaseManager) isAttached(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.keys[key]
	return ok
}

// Release detaches key from its lease; the lease stays for reuse.
func (m *leaseManager) Release(key string) {
	m.mu.Lock()
	m.releaseLocked(key)
	m.mu.Unlock()
}

// ReleasePrefix detaches every key starting with prefix.
func (m *leaseManager) ReleasePrefix(prefix string) {
	m.mu.Lock()
	for k := range m.keys {
		if strings.HasPrefix(k, prefix) {
			m.releaseLocked(k)
		}
	}
	m.mu.Unlock()
}

func (m *leaseManager) releaseLocked(key string) {
	id, ok := m.keys[key]
	if !ok {
		return
	}
	delete(m.keys, key)
	if l, ok := m.leases[id]; ok && l.count > 0 {
		l.count--
	}
}

// TotalLeases returns how many leases the manager holds.
func (m *leaseManager) TotalLeases() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.leases)
}

// close stops granting, ends every lease for this client and starts their
// expiry countdown in the store: the keys stay for one TTL, as on etcd when a
// process stops without revoking.
func (m *leaseManager) close() {
	m.mu.Lock()
	m.closed = true
	ids := make([]int64, 0, len(m.leases))
	for id, l := range m.leases {
		ids = append(ids, id)
		close(l.done)
	}
	m.leases = map[int64]*clientLease{}
	m.keys = map[string]int64{}
	m.current = 0
	m.mu.Unlock()
	m.store.orphanLeases(ids)
}

func leaseHex(id int64) string { return fmt.Sprintf("%x", id) }
