package etcd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
)

// runStatusChecker checks the health every StatusCheckInterval(allConnected)
// until Close, sooner while something is wrong. It runs on c.wg.
//
// The first check comes half an interval to a whole one after the
// connection: the connection itself just proved what a check would (the
// first session's lease grant is committed by a quorum), so a fleet
// starting together sends no status traffic while it starts, and its checks
// are spread over the interval instead of arriving in step. Every later wait
// is jittered by ±10 % so that they do not fall back into step.
func (c *etcdClient) runStatusChecker() {
	wait := statusWait(c.extra.StatusCheckInterval(true), 0.5, 1)
	for {
		t := time.NewTimer(wait)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		allConnected := c.checkStatus(c.ctx)
		wait = statusWait(c.extra.StatusCheckInterval(allConnected), 0.9, 1.1)
	}
}

// statusWait returns d scaled by a uniform factor in [lo, hi).
func statusWait(d time.Duration, lo, hi float64) time.Duration {
	return time.Duration(float64(d) * (lo + (hi-lo)*rand.Float64()))
}

// endpointResult is the outcome of one endpoint probe.
type endpointResult struct {
	text string // "<endpoint> - <version>[ (Leader)]" or "<endpoint> - <error>"
	ok   bool
}

// checkStatus runs one round of checks, updates the snapshot, reports a
// failure on StatusCheckErrors and says whether everything was reachable.
// The quorum check and the endpoint probes run in parallel, so a round
// takes at most 1.25 × StatusCheckTimeout.
func (c *etcdClient) checkStatus(ctx context.Context) (allConnected bool) {
	timeout := c.extra.EffectiveStatusCheckTimeout()
	quorum := c.startQuorumCheck(ctx, timeout)
	var endpoints []endpointResult
	if c.extra == nil || !c.extra.NoEndpointStatusChecks {
		endpoints = c.probeEndpoints(ctx, timeout)
	}
	quorumErr := c.awaitQuorumCheck(ctx, quorum, timeout)
	if ctx.Err() != nil {
		return false // closing: keep the last snapshot
	}

	switch {
	case quorumErr == nil:
	case errors.Is(quorumErr, errTimeoutInitialConnection):
		c.metrics.quorumError(quorumErrTimeout)
	default:
		c.metrics.quorumError(quorumErrLock)
	}
	hbErr := c.heartbeatError(time.Now())
	if hbErr != nil {
		c.metrics.quorumError(quorumErrHeartbeat)
	}

	st, err := c.evaluate(quorumErr, hbErr, endpoints)
	c.status.set(st)
	if err != nil {
		c.log.WithError(err).Warning("etcd status check failed")
		c.status.report(err)
	}
	c.status.rounds.Add(1)
	return st.State == kvstore.StateOK
}

// startQuorumCheck starts a quorum check on c.wg unless the previous one
// is still running, and returns the channel of the running one.
func (c *etcdClient) startQuorumCheck(ctx context.Context, timeout time.Duration) chan error {
	if c.status.quorumInflight != nil {
		return c.status.quorumInflight
	}
	res := make(chan error, 1)
	c.status.quorumInflight = res
	started := c.spawn(func() {
		qctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res <- c.quorumCheck(qctx)
	})
	if !started {
		res <- kvstore.ErrClientClosed
	}
	return res
}

// awaitQuorumCheck waits for the running check a little longer than its
// timeout; a check that takes longer counts as failed for this round and
// is waited for again by the next one.
func (c *etcdClient) awaitQuorumCheck(ctx context.Context, res chan error, timeout time.Duration) error {
	t := time.NewTimer(timeout + timeout/4)
	defer t.Stop()
	select {
	case err := <-res:
		c.status.quorumInflight = nil
		return err
	case <-t.C:
		return fmt.Errorf("%w: the quorum check did not complete within %s", errQuorumCheckSlow, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// evaluate turns the results of a round into the snapshot and, when the
// status fails, the error to report. It owns the consecutive quorum errors
// counter.
func (c *etcdClient) evaluate(quorumErr, hbErr error, endpoints []endpointResult) (kvstore.Status, error) {
	s := &c.status
	hasQuorum := "true"
	if quorumErr != nil {
		s.consecutiveQuorumErrors++
		hasQuorum = fmt.Sprintf("%v, consecutive-errors=%d", quorumErr, s.consecutiveQuorumErrors)
	} else {
		s.consecutiveQuorumErrors = 0
	}

	var ok, total int
	var parts []string
	if endpoints == nil {
		// Without probes the quorum check stands for every endpoint.
		total = len(c.endpointList())
		if quorumErr == nil {
			ok = total
		}
		parts = []string{"endpoint status checks are disabled"}
	} else {
		total = len(endpoints)
		for _, e := range endpoints {
			if e.ok {
				ok++
			}
			parts = append(parts, e.text)
		}
	}
	summary := fmt.Sprintf("etcd: %d/%d connected, leases=%d, lock leases=%d, has-quorum=%s: %s",
		ok, total, c.leases.TotalLeases(), c.lockLeases.TotalLeases(), hasQuorum, strings.Join(parts, "; "))

	var err error
	switch {
	case s.consecutiveQuorumErrors > c.extra.EffectiveMaxConsecutiveQuorumErrors():
		err = fmt.Errorf("quorum check failed %d times in a row: %w", s.consecutiveQuorumErrors, quorumErr)
	case total > 0 && ok == 0:
		err = errors.New("not able to connect to any etcd endpoints")
	case hbErr != nil:
		err = hbErr
	}
	switch {
	case err != nil:
		err = kvstore.Hint(err)
		return kvstore.Status{State: kvstore.StateFailure, Msg: err.Error() + "; " + summary}, err
	case quorumErr != nil || ok < total:
		return kvstore.Status{State: kvstore.StateWarning, Msg: summary}, nil
	default:
		return kvstore.Status{State: kvstore.StateOK, Msg: summary}, nil
	}
}

// endpointList returns the client's endpoints, sorted so that the status
// line does not change order between checks (the configured list is
// shuffled).
func (c *etcdClient) endpointList() []string {
	cli := c.cli.Load()
	if cli == nil {
		return nil
	}
	eps := append([]string(nil), cli.Endpoints()...)
	sort.Strings(eps)
	return eps
}

// probeEndpoints asks every endpoint for its status, in parallel, each
// bounded by timeout. The probes bypass the rate limiter: they are few, and
// a client starved by its own traffic must still report its health.
func (c *etcdClient) probeEndpoints(ctx context.Context, timeout time.Duration) []endpointResult {
	cli := c.cli.Load()
	eps := c.endpointList()
	res := make([]endpointResult, len(eps))
	var wg sync.WaitGroup
	for i, ep := range eps {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			res[i] = probeEndpoint(pctx, cli, ep)
		})
	}
	wg.Wait()
	return res
}

func probeEndpoint(ctx context.Context, cli *clientv3.Client, ep string) endpointResult {
	resp, err := cli.Status(ctx, ep)
	if err != nil {
		return endpointResult{text: fmt.Sprintf("%s - %v", ep, kvstore.Hint(err))}
	}
	text := fmt.Sprintf("%s - %s", ep, resp.Version)
	if resp.Header != nil && resp.Header.MemberId == resp.Leader {
		text += " (Leader)"
	}
	return endpointResult{text: text, ok: true}
}
