package etcd

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/hivekv/kvstore/internal/backoff"
)

// leaseCheckTimeout bounds one TimeToLive request of confirmLost.
const leaseCheckTimeout = 5 * time.Second

// confirmLost decides what the end of the keepalive session of data lease id
// means. clientv3 ends a keepalive not only when the server answers that the
// lease is gone, but also when no answer came within a deadline: the TTL,
// and for the first keepalive only the dial timeout + 1 s (5 s by default).
// Under load that is a slow answer, not a lost lease; declaring it lost
// would re-write every key of the lease on a new one — more load exactly
// when the server is slowest.
//
// So it asks the server (TimeToLive), retrying with jittered backoff:
//   - the lease has time left: a new session keeps it alive (returned, and
//     put in the book), lost is false;
//   - the server says the lease is gone: lost;
//   - no answer until a whole TTL has passed since the session ended: the
//     lease has certainly run out by then (no keepalive was sent for it
//     since), lost.
//
// It returns (nil, false) when the client closes or the lease left the book
// meanwhile (a write found it gone: CancelIfExpired reported it).
func (m *leaseManager) confirmLost(id clientv3.LeaseID) (next *concurrency.Session, lost bool) {
	ended := time.Now()
	ttl := max(m.ttl, time.Second)
	bo := backoff.Backoff{Min: 100 * time.Millisecond, Max: min(ttl/4, 5*time.Second)}
	log := m.log.WithField("lease", leaseHex(id))
	for attempt := 1; ; attempt++ {
		if !m.known(id) {
			return nil, false
		}
		alive, err := m.timeToLive(id)
		switch {
		case err == nil && !alive:
			return nil, true
		case err == nil:
			s, err := m.renewSession(id)
			if err == nil {
				log.WithField("attempts", attempt).Info("Lease keepalive was slow, not lost: keeping the lease alive again")
				return s, false
			}
			if isLeaseNotFound(err) {
				return nil, true
			}
			log.WithError(err).Debug("Unable to restart the lease keepalive")
		case isLeaseNotFound(err):
			return nil, true
		default:
			log.WithError(err).WithField("attempt", attempt).Debug("Unable to check the lease after its keepalive ended")
		}
		if time.Since(ended) >= ttl {
			log.WithField("ttl", ttl).Warning("Lease unconfirmed for a whole TTL after its keepalive ended: taking it as expired")
			return nil, true
		}
		if backoff.Sleep(m.clientCtx, bo.Next()) != nil {
			return nil, false
		}
	}
}

// known reports whether lease id is still in the book.
func (m *leaseManager) known(id clientv3.LeaseID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.book.Value(id)
	return ok
}

// timeToLive asks the server whether lease id has time left.
func (m *leaseManager) timeToLive(id clientv3.LeaseID) (alive bool, err error) {
	ctx, cancel := context.WithTimeout(m.clientCtx, leaseCheckTimeout)
	defer cancel()
	resp, err := m.client.TimeToLive(ctx, id)
	if err != nil {
		return false, err
	}
	return resp.TTL > 0, nil
}

// renewSession starts a new keepalive session for lease id and records it
// in the book.
func (m *leaseManager) renewSession(id clientv3.LeaseID) (*concurrency.Session, error) {
	s, err := concurrency.NewSession(m.client,
		concurrency.WithLease(id),
		concurrency.WithTTL(int(max(m.ttl/time.Second, 1))),
		concurrency.WithContext(m.clientCtx))
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	ok := m.book.SetValue(id, s)
	m.mu.Unlock()
	if !ok {
		// Reported lost meanwhile: this keepalive has nothing to keep.
		s.Orphan()
		return nil, errLeaseForgotten
	}
	m.log.WithFields(logrus.Fields{"lease": leaseHex(id)}).Debug("Lease keepalive restarted")
	return s, nil
}
