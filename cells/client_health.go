package cells

import (
	"context"
	"errors"
	"time"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/modhealth"
)

// maxStatusPoll bounds how often the Client cell reads the client's
// Status() for its health. Reading it is local (the status checker does
// the network work), so a short interval costs nothing; a shorter status
// check interval (ExtraOptions) shortens it.
const maxStatusPoll = time.Second

// errDisconnected is the error of the client's health after the lock
// session was lost.
var errDisconnected = errors.New("the kvstore lock session was lost (its lease expired): locks held through it are gone")

// watchHealth reports a connected client's health until ctx ends:
//
//   - OK with the client's status line (endpoints, versions, leader);
//   - Degraded when a status check fails (lost quorum, a quorum check that
//     failed --kvstore-max-consecutive-quorum-errors times in a row, no
//     endpoint reachable, a stale heartbeat), with the check's error;
//   - Degraded when the lock session is lost (a disconnect).
//
// After a failure it reports OK again only once a quorum check succeeded
// (Connected), not on a status line that may predate the failure.
func watchHealth(ctx context.Context, cl kvstore.BackendOperations, h *modhealth.Part, pollEvery time.Duration) {
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	var (
		checks       = cl.StatusCheckErrors()
		disconnected = cl.Disconnected()
		recovered    <-chan error // non-nil while waiting for quorum after a failure
		cancelWait   = func() {}
		// stale is a failed status line that predates the recovery: the
		// checker rewrites it at its next round, until then it is old news.
		stale string
	)
	defer func() { cancelWait() }()
	failed := func(reason string, err error) {
		h.Degraded(reason, err)
		if recovered == nil {
			var wctx context.Context
			wctx, cancelWait = context.WithCancel(ctx)
			recovered = cl.Connected(wctx)
		}
	}
	fromStatus := func() {
		switch st := cl.Status(); {
		case st.State == kvstore.StateOK:
			stale = ""
			h.OK(st.Msg)
		case st.Msg == stale:
		case st.State == kvstore.StateFailure:
			failed("kvstore status check failed", errors.New(st.Msg))
		default: // a warning: degraded but working
			h.Degraded(st.Msg, nil)
		}
	}
	fromStatus()
	for {
		select {
		case <-ctx.Done():
			return
		case err, open := <-checks:
			if !open {
				checks = nil
				continue
			}
			failed("kvstore status check failed", err)
		case <-disconnected:
			failed("kvstore disconnected", errDisconnected)
			disconnected = cl.Disconnected() // the next session's end
		case err := <-recovered:
			cancelWait()
			recovered = nil
			if err != nil {
				// Only a closed client or the end of ctx stop the wait.
				return
			}
			if st := cl.Status(); st.State != kvstore.StateOK {
				stale = st.Msg
				h.OK("connected with quorum")
			} else {
				h.OK(st.Msg)
			}
		case <-poll.C:
			if recovered == nil {
				fromStatus()
			}
		}
	}
}
