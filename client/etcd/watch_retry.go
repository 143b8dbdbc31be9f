package etcd

import (
	"errors"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hivekv/kvstore/internal/backoff"
)

const (
	// quietFailures is how many consecutive list/watch failures log at
	// Info: a leader election or a server restart causes a few. After that
	// something is really wrong and it is a Warning.
	quietFailures = 10

	// overloadMinWait is the least a watcher waits after the server said
	// it is overloaded or has no leader: retrying such a server within
	// milliseconds, from every client at once, is what keeps it down
	// (Cilium #22037, #42977).
	overloadMinWait = time.Second
)

// retryAfter logs a failed list or watch and waits before the next attempt,
// following b's schedule. It returns false if the watcher must exit instead.
func (r *watchRun) retryAfter(what string, err error, b *backoff.Backoff) bool {
	r.failures++
	wait := b.Next()
	if overloaded(err) {
		wait = max(wait, b.Jitter(overloadMinWait))
	}
	log := r.log.WithError(err).WithField("attempt", r.failures).WithField("retryIn", wait)
	msg := "Unable to " + what + " the watched prefix, retrying"
	if r.failures <= quietFailures {
		log.Info(msg)
	} else {
		log.Warning(msg)
	}
	return backoff.Sleep(r.ctx, wait) == nil
}

// succeeded ends a series of failures.
func (r *watchRun) succeeded() {
	if r.failures > quietFailures {
		r.log.WithField("failures", r.failures).Info("Watcher recovered")
	}
	r.failures = 0
}

// overloaded reports errors that say the server cannot take the load or has
// no leader right now. Besides the typed errors it matches etcd's stable
// error texts, which survive wrapping by gRPC, our opError and Hint.
func overloaded(err error) bool {
	for _, e := range []error{rpctypes.ErrTooManyRequests, rpctypes.ErrGRPCRequestTooManyRequests,
		rpctypes.ErrNoLeader, rpctypes.ErrGRPCNoLeader} {
		if errors.Is(err, e) || strings.Contains(err.Error(), rpctypes.ErrorDesc(e)) {
			return true
		}
	}
	var coded interface{ Code() codes.Code }
	if errors.As(err, &coded) && coded.Code() == codes.ResourceExhausted {
		return true
	}
	if s, ok := status.FromError(err); ok && s.Code() == codes.ResourceExhausted {
		return true
	}
	return false
}
