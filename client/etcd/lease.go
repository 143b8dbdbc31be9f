package etcd

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/leasebook"
)

// leaseManager shares etcd leases among keys: it hands out the current lease
// until maxKeys keys are attached to it, then grants a new one. Sharing keeps
// the number of keepalives small; the cap keeps every Put cheap, since etcd
// does work proportional to the keys already on a lease (etcd #15993).
//
// Each lease is held by a concurrency.Session, which keeps it alive until the
// client closes. When a session ends while the client lives, the lease has
// expired on the server: the manager forgets it and reports every key that
// was attached to it through onExpired, so that owners can write them again.
//
// A client has two managers: one for data keys (TTL --kvstore-lease-ttl) and
// one for locks and the connection session (TTL 25 s).
type leaseManager struct {
	client    *clientv3.Client
	clientCtx context.Context // lifetime of the client; sessions are bound to it
	ttl       time.Duration
	maxKeys   int
	log       logrus.FieldLogger
	onExpired func(keys []string) // may be nil; called without mu held
	onGranted func()              // may be nil; called after every successful grant
	// confirm: a session that ends is not taken as an expired lease until
	// the server says so or its TTL has certainly run out (data leases,
	// see confirmLost). Lock leases are given up at once: a lock whose
	// lease may be gone must not be trusted.
	confirm bool

	mu        sync.Mutex
	book      *leasebook.Book[clientv3.LeaseID, *concurrency.Session]
	acquiring chan struct{} // non-nil while a grant is in flight
	waiting   bool          // Wait has begun: start no expiry watcher

	wg sync.WaitGroup // expiry watchers
}

func newLeaseManager(clientCtx context.Context, cl *clientv3.Client, ttl time.Duration, maxKeys int,
	log logrus.FieldLogger, onExpired func([]string)) *leaseManager {
	return &leaseManager{
		client:    cl,
		clientCtx: clientCtx,
		ttl:       ttl,
		maxKeys:   maxKeys,
		log:       log,
		onExpired: onExpired,
		book:      leasebook.New[clientv3.LeaseID, *concurrency.Session](maxKeys),
	}
}

// GetLeaseID returns the lease key must be written with, attaching the key to
// it if it is not attached yet. fresh reports that this call attached it: a
// caller whose write then did not happen (CreateOnly on an existing key)
// Releases it, while a key attached by an earlier write stays attached.
func (m *leaseManager) GetLeaseID(ctx context.Context, key string) (id clientv3.LeaseID, fresh bool, err error) {
	s, fresh, err := m.attach(ctx, key)
	if err != nil {
		return clientv3.NoLease, false, err
	}
	return s.Lease(), fresh, nil
}

// Reserve makes sure the manager holds a lease with room for a key,
// granting one if needed, and returns its ID: the client's first session.
func (m *leaseManager) Reserve(ctx context.Context) (clientv3.LeaseID, error) {
	const probe = "\x00reserve"
	s, fresh, err := m.attach(ctx, probe)
	if err != nil {
		return clientv3.NoLease, err
	}
	if fresh {
		m.Release(probe)
	}
	return s.Lease(), nil
}

// GetSession returns the session of the lease key is attached to, attaching it
// to the current lease, to any lease with room left, or to a newly granted
// one. Only one grant runs at a time; concurrent callers wait for it.
func (m *leaseManager) GetSession(ctx context.Context, key string) (*concurrency.Session, error) {
	s, _, err := m.attach(ctx, key)
	return s, err
}

func (m *leaseManager) attach(ctx context.Context, key string) (s *concurrency.Session, fresh bool, err error) {
	for {
		m.mu.Lock()
		if _, s, ok := m.book.Lookup(key); ok {
			m.mu.Unlock()
			return s, false, nil
		}
		if _, s, ok := m.book.Attach(key); ok {
			m.mu.Unlock()
			return s, true, nil
		}
		if wait := m.acquiring; wait != nil {
			m.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, false, ctx.Err()
			case <-m.clientCtx.Done():
				return nil, false, kvstore.ErrClientClosed
			}
		}
		done := make(chan struct{})
		m.acquiring = done
		m.mu.Unlock()

		session, err := m.grant(ctx)

		m.mu.Lock()
		m.acquiring = nil
		close(done)
		if err != nil {
			m.mu.Unlock()
			return nil, false, err
		}
		m.book.Add(session.Lease(), session)
		m.mu.Unlock()
	}
}

// grant creates a lease and its keepalive session, and starts watching it
// for expiry.
func (m *leaseManager) grant(ctx context.Context) (*concurrency.Session, error) {
	ttl := int64(m.ttl / time.Second)
	if ttl < 1 {
		ttl = 1
	}
	resp, err := m.client.Grant(ctx, ttl)
	if err != nil {
		return nil, err
	}
	if m.onGranted != nil {
		m.onGranted()
	}
	session, err := concurrency.NewSession(m.client,
		concurrency.WithLease(resp.ID),
		concurrency.WithTTL(int(ttl)),
		concurrency.WithContext(m.clientCtx))
	if err != nil {
		return nil, err
	}
	m.log.WithFields(logrus.Fields{"lease": leaseHex(resp.ID), "ttl": m.ttl}).Debug("New lease granted")
	m.mu.Lock()
	if m.waiting {
		// Close is waiting for the watchers: start none, and give up
		// the session; its lease times out on the server.
		m.mu.Unlock()
		session.Orphan()
		return nil, kvstore.ErrClientClosed
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go m.watchExpiry(session)
	return session, nil
}

// watchExpiry waits for the end of a session. An end while the client lives
// means the lease is gone on the server for a lock lease; a data lease is
// first confirmed lost (confirmLost), and its keepalive restarted if it is
// not.
func (m *leaseManager) watchExpiry(s *concurrency.Session) {
	defer m.wg.Done()
	id := s.Lease()
	for {
		select {
		case <-s.Done():
		case <-m.clientCtx.Done():
			return
		}
		if m.clientCtx.Err() != nil {
			return
		}
		if !m.confirm {
			m.expire(id)
			return
		}
		next, lost := m.confirmLost(id)
		if lost {
			m.expire(id)
		}
		if next == nil {
			return
		}
		s = next
	}
}

// expire forgets lease id and reports the keys attached to it. It runs once
// per lease: whichever of watchExpiry and CancelIfExpired comes first.
func (m *leaseManager) expire(id clientv3.LeaseID) {
	m.mu.Lock()
	_, lost, ok := m.book.Remove(id)
	m.mu.Unlock()
	if !ok {
		return
	}
	m.log.WithFields(logrus.Fields{"lease": leaseHex(id), "keys": len(lost)}).Warning("Lease expired")
	if m.onExpired != nil && len(lost) > 0 {
		m.onExpired(lost)
	}
}

// Release detaches key from its lease. The lease itself stays for reuse.
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

// KeyHasLease reports whether key is attached to exactly lease id.
func (m *leaseManager) KeyHasLease(key string, id clientv3.LeaseID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.book.Has(key, id)
}

// CancelIfExpired drops lease id when err says the server no longer knows it:
// its keys are reported as lost, its keepalive stops, and the next caller
// gets a fresh lease. It reports whether it did so; other errors are ignored.
func (m *leaseManager) CancelIfExpired(err error, id clientv3.LeaseID) bool {
	if err == nil || id == clientv3.NoLease || !isLeaseNotFound(err) {
		return false
	}
	m.mu.Lock()
	session, ok := m.book.Value(id)
	m.mu.Unlock()
	if ok {
		m.expire(id)
		session.Orphan()
	}
	return true
}

func isLeaseNotFound(err error) bool { return errors.Is(err, rpctypes.ErrLeaseNotFound) }

// TotalLeases returns how many leases the manager holds.
func (m *leaseManager) TotalLeases() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.book.Leases()
}

// Wait waits for the expiry watchers; call after the client ctx is cancelled.
// No watcher starts after Wait has begun.
func (m *leaseManager) Wait() {
	m.mu.Lock()
	m.waiting = true
	m.mu.Unlock()
	m.wg.Wait()
}

// revokeTimeout bounds the revocation of the lock leases at Close, so that a
// Close against an unreachable server is not held up for long; the leases
// then end with their TTL.
const revokeTimeout = time.Second

// RevokeAll revokes every lease of the manager on the server, best effort
// and within revokeTimeout, with a ctx of its own: it runs in Close, after
// the client ctx has ended. Only the lock manager uses it: a closed client
// holds no lock, and waiters on its locks (and the quorum check's lock keys)
// should not wait out the lock lease TTL. Data leases are never revoked, so
// that a restarting process does not make its keys flap.
func (m *leaseManager) RevokeAll() {
	m.mu.Lock()
	var ids []clientv3.LeaseID
	m.book.Each(func(id clientv3.LeaseID, _ *concurrency.Session) { ids = append(ids, id) })
	m.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	for _, id := range ids {
		if _, err := m.client.Revoke(ctx, id); err != nil {
			m.log.WithError(err).WithField("lease", leaseHex(id)).Debug("Unable to revoke the lock lease at close; it ends with its TTL")
		}
	}
}
