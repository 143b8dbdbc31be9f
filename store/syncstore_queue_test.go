package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

// Under sustained load the ready keys never drain to zero; the consumed head
// of the queue must be reclaimed anyway (it used to be kept until a full
// drain: a queue that grew with every write ever queued).
func TestWriteQueueBoundedUnderSustainedLoad(t *testing.T) {
	var q writeQueue
	keys := make([]*entry, 10)
	for i := range keys {
		keys[i] = &entry{name: string(rune('a' + i))}
	}
	for _, e := range keys {
		q.push(e)
	}
	maxCap := 0
	for i := range 100_000 {
		e := q.pop()
		require.Same(t, keys[i%len(keys)], e, "FIFO order")
		q.push(e) // written, changed again: back in the queue
		require.Equal(t, len(keys), q.ready(), "never drained")
		maxCap = max(maxCap, cap(q.fifo))
	}
	require.LessOrEqual(t, maxCap, 4*(compactMin+len(keys)), "the queue's array grew with the writes, not with the keys")
}

// A key whose backoff is cut short by a change leaves a stale heap item
// behind; keys that fail, change and fail again forever must not pile such
// items up.
func TestWriteQueuePrunesStaleBackoffs(t *testing.T) {
	var q writeQueue
	e := &entry{name: "k"}
	now := time.Now()
	for i := range 10_000 {
		e.state = stateDelayed
		q.delay(e, now.Add(time.Hour+time.Duration(i)))
		// The key changes: queued at once (as enqueueLocked does).
		q.undelay()
		e.state = stateQueued
		require.LessOrEqual(t, len(q.delayed), 2*(q.live+1)+compactMin)
	}
	require.Zero(t, q.live)
	// The last backoff is current again: it survives pruning and is
	// promoted when due.
	e.state = stateDelayed
	q.delay(e, now)
	q.prune()
	require.Len(t, q.delayed, 1)
	require.True(t, q.promote(now.Add(time.Millisecond)).IsZero())
	require.Equal(t, 1, q.ready())
	require.Same(t, e, q.pop())
	require.Zero(t, q.live)
}

// Retries are spread over [¾d, 1¼d).
func TestJitteredRetries(t *testing.T) {
	d := 100 * time.Millisecond
	lo, hi := d, time.Duration(0)
	for range 1000 {
		j := jittered(d, jitter())
		require.GreaterOrEqual(t, j, d*3/4)
		require.Less(t, j, d*5/4)
		lo, hi = min(lo, j), max(hi, j)
	}
	require.Greater(t, hi-lo, d/4, "the retries are spread, not in step")
}

// A write that timed out or was refused for load is not retried within
// milliseconds; other failures follow the exponential schedule.
func TestRetryDelayAfterOverload(t *testing.T) {
	require.Equal(t, minRetryDelay, retryDelayAfter(errors.New("connection refused"), 1))
	for _, err := range []error{
		errors.New("kvstore: update \"k\": etcdserver: request timed out"),
		errors.New("rpc error: code = ResourceExhausted desc = etcdserver: too many requests"),
		kvstore.Hint(context.DeadlineExceeded),
	} {
		require.Equal(t, overloadRetryDelay, retryDelayAfter(err, 1), "%v", err)
		require.Equal(t, maxRetryDelay, retryDelayAfter(err, maxFailures), "%v", err)
	}
}
