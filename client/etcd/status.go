package etcd

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hivekv/kvstore"
)

// statusState is the etcd client's health bookkeeping: the snapshot that
// Status returns, the StatusCheckErrors channel, and what the periodic
// checker (status_checker.go) and the heartbeat watcher
// (status_heartbeat.go) learn between two checks.
//
// Lifecycle: initStatus at construction (Warning, "Waiting for initial
// connection to be established"); connectFailed or onConnected once the
// first session is decided; the checker and the heartbeat watcher run on
// c.wg from onConnected until Close cancels c.ctx; closeStatus, called by
// Close after c.wg drained, closes errs. Nothing is sent on errs after
// that, since every sender runs on c.wg.
type statusState struct {
	mu       sync.Mutex
	snapshot kvstore.Status
	errs     chan error // StatusCheckErrors; closed by closeStatus

	// consecutiveQuorumErrors counts the checks in a row whose quorum
	// check failed; a success resets it. Only the checker touches it.
	consecutiveQuorumErrors uint

	// quorumInflight delivers the result of the checker's quorum check
	// that is still running, nil when none is. Only the checker touches
	// it: a check that outlives its round is not started again, so
	// checks never pile up against a struggling store.
	quorumInflight chan error

	// lastHeartbeat is when (local clock) the watcher last saw the
	// heartbeat key created or modified; zero means never. See
	// heartbeatError for why "never" does not fail the status.
	lastHeartbeat time.Time

	// quorumProvenAt is when (local clock, unix ns) a request that needs a
	// quorum last succeeded: a write, a transaction or a lease grant is
	// committed through raft only with a quorum of members. Zero: never.
	quorumProvenAt atomic.Int64

	// rounds counts completed status checks, so that tests can wait for
	// "the checker looked again" instead of for a span of time.
	rounds atomic.Uint64
}

// statusErrsBuffer is how many status errors wait for a slow reader before
// new ones are dropped.
const statusErrsBuffer = 128

// proveQuorum records that a request committed by a quorum just succeeded.
func (s *statusState) proveQuorum() { s.quorumProvenAt.Store(time.Now().UnixNano()) }

// quorumProvenWithin reports whether a committed request succeeded within d
// of now.
func (s *statusState) quorumProvenWithin(now time.Time, d time.Duration) bool {
	at := s.quorumProvenAt.Load()
	return at != 0 && now.Sub(time.Unix(0, at)) < d
}

func (c *etcdClient) initStatus() {
	c.status.snapshot = kvstore.Status{State: kvstore.StateWarning, Msg: connectingMsg}
	c.status.errs = make(chan error, statusErrsBuffer)
}

// connectFailed records a failed initial connection.
func (s *statusState) connectFailed(err error) {
	s.set(kvstore.Status{State: kvstore.StateFailure, Msg: "Failed to establish initial connection: " + err.Error()})
	s.report(err)
}

func (s *statusState) set(st kvstore.Status) {
	s.mu.Lock()
	s.snapshot = st
	s.mu.Unlock()
}

// report sends err to StatusCheckErrors without blocking: a consumer that
// does not read loses errors, never the checker's progress.
func (s *statusState) report(err error) {
	select {
	case s.errs <- err:
	default:
	}
}

// onConnected runs once, on the connect goroutine (so inside c.wg), after
// the first session is established and before NewClient's error channel
// closes: it sets the first full status line, then starts the status
// checker and the heartbeat watcher.
//
// The first line is the checker's format, so that a program printing the
// status right after connecting sees endpoints, versions and the leader.
// The session just granted its lease through raft, which proves quorum;
// only the endpoints are probed, each for at most firstProbeTimeout, so a
// dead endpoint among live ones delays the connection little (it is listed
// as failing, and the checker's first round, which starts at once, looks
// again).
func (c *etcdClient) onConnected() {
	var endpoints []endpointResult
	if c.extra == nil || !c.extra.NoEndpointStatusChecks {
		endpoints = c.probeEndpoints(c.ctx, min(firstProbeTimeout, c.extra.EffectiveStatusCheckTimeout()))
	}
	st, _ := c.evaluate(nil, nil, endpoints)
	c.status.set(st)
	c.spawn(c.runStatusChecker, c.watchHeartbeat)
}

// firstProbeTimeout bounds onConnected's endpoint probes.
const firstProbeTimeout = time.Second

// closeStatus runs in Close after the background goroutines have exited.
func (c *etcdClient) closeStatus() { close(c.status.errs) }

// Status implements kvstore.BackendOperations. It returns the result of the
// latest check and never touches the network.
func (c *etcdClient) Status() *kvstore.Status {
	c.status.mu.Lock()
	defer c.status.mu.Unlock()
	st := c.status.snapshot
	return &st
}

// StatusCheckErrors implements kvstore.BackendOperations.
func (c *etcdClient) StatusCheckErrors() <-chan error { return c.status.errs }

// Connected implements kvstore.BackendOperations. The wait runs the quorum
// check (quorumCheck) until it succeeds, backing off exponentially between
// attempts so that a fleet of waiters does not hammer a store that lost
// quorum. A failed initial connection is final: its error is delivered at
// once.
func (c *etcdClient) Connected(ctx context.Context) <-chan error {
	out := make(chan error, 1)
	go func() {
		defer close(out)
		if err := c.waitConnected(ctx); err != nil {
			out <- err
		}
	}()
	return out
}

func (c *etcdClient) waitConnected(ctx context.Context) error {
	bo := newStatusBackoff(c.extra)
	for {
		// The attempt runs apart so that the wait ends with ctx even if
		// the lock implementation takes longer to give up (it cleans up
		// after a failed acquisition); it ends by itself soon after.
		res := make(chan error, 1)
		go func() {
			actx, cancel := context.WithTimeout(ctx, c.extra.EffectiveStatusCheckTimeout())
			defer cancel()
			res <- c.quorumCheck(actx)
		}()
		var err error
		select {
		case err = <-res:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.ctx.Done():
			return kvstore.ErrClientClosed
		}
		switch {
		case err == nil:
			return nil
		case c.ctx.Err() != nil:
			return kvstore.ErrClientClosed
		case ctx.Err() != nil:
			return ctx.Err()
		case c.initialConnectionFailed():
			return err
		}
		c.log.WithError(err).Debug("Not connected with quorum yet, retrying")
		if !sleepBoth(ctx, c.ctx, bo.Next()) {
			if c.ctx.Err() != nil {
				return kvstore.ErrClientClosed
			}
			return ctx.Err()
		}
	}
}

// initialConnectionFailed reports whether the first session failed for good.
func (c *etcdClient) initialConnectionFailed() bool {
	select {
	case <-c.firstSession:
		return c.sessionErr != nil
	default:
		return false
	}
}

// Disconnected implements kvstore.BackendOperations. It never blocks: the
// returned channel is closed when the lock session current at the time of
// the call ends (its lease expired or the client was closed), or at once if
// the initial connection failed. A session that is being replaced after a
// loss is waited for in the background. The lock lease is granted lazily
// (establishSession): a client that never locked gets one granted by its
// first call of Disconnected.
func (c *etcdClient) Disconnected() <-chan struct{} {
	out := make(chan struct{})
	go func() {
		defer close(out)
		select {
		case <-c.firstSession:
		case <-c.ctx.Done():
			return
		}
		if c.sessionErr != nil {
			return
		}
		s, err := c.lockLeases.GetSession(c.ctx, kvstore.InitLockPath)
		if err != nil {
			return
		}
		select {
		case <-s.Done():
		case <-c.ctx.Done():
		}
	}()
	return out
}
