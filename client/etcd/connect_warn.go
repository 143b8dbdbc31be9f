package etcd

import (
	"context"
	"time"

	"github.com/hivekv/kvstore"
)

// An operator must not wait in silence for --kvstore-connectivity-timeout
// (two minutes by default) to learn that the certificate is foreign or that
// nothing listens. While the first connection is not up, the endpoints are
// probed as explainConnectError would probe them, and a cause found is logged
// as a warning and shown in Status().Msg. The final error stays as it was.

// Probe schedule while connecting: the first probe soon after the start
// (gRPC fails a refused or TLS-broken attempt at once, so a cause is known
// by then), the next ones spaced so that a long outage does not flood the
// log. Variables so that tests need not wait.
var (
	connectWarnDelay    = 3 * time.Second
	connectWarnInterval = 30 * time.Second
)

// connectingMsg is the status message until the first connection is up.
const connectingMsg = "Waiting for initial connection to be established"

// warnWhileConnecting probes on the schedule above until ctx ends (connect
// cancels it, and waits for the return, before it reports the outcome, so
// that a late warning cannot overwrite the status the outcome sets).
func (c *etcdClient) warnWhileConnecting(ctx context.Context) {
	t := time.NewTimer(connectWarnDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, diagnosisBudget(c.extra.EffectiveConnectivityTimeout()))
		cause := c.probeCause(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if cause != "" {
			c.log.WithField("cause", cause).WithField("endpoints", c.endpointsString()).
				Warning("Still not connected to etcd; retrying until --kvstore-connectivity-timeout")
			c.status.set(kvstore.Status{State: kvstore.StateWarning, Msg: connectingMsg + ": " + cause})
		}
		t.Reset(connectWarnInterval)
	}
}
